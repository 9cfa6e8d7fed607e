package server_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/tracker"
)

// panickyRecords is a record store with a bug: reading the call "boom" panics.
type panickyRecords struct{ tracker.Store }

func (p panickyRecords) Get(ctx context.Context, id string) (*telephony.Call, error) {
	if id == "boom" {
		panic("record store bug")
	}
	return p.Store.Get(ctx, id)
}

// TestPanicBecomesInternal checks that a panic inside a handler answers that one RPC with
// INTERNAL (no detail leaks), is logged with its stack, and leaves the server serving.
func TestPanicBecomesInternal(t *testing.T) {
	var logs testenv.Buffer
	st := startStack(t, stackConfig{
		logs:        &logs,
		wrapRecords: func(s tracker.Store) tracker.Store { return panickyRecords{s} },
	})
	ctx := context.Background()
	for range 2 { // the second time proves the server survived the first
		_, err := st.client.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: "boom"})
		if s := status.Convert(err); s.Code() != codes.Internal || s.Message() != "internal error" {
			t.Errorf("GetCall that panics = %v, want Internal \"internal error\"", err)
		}
		_, err = st.client.GetCall(ctx, &telephonyv1.GetCallRequest{CallId: "no-such-call"})
		if status.Code(err) != codes.NotFound {
			t.Errorf("GetCall after a panic = %v, want NotFound from a server still serving", err)
		}
	}
	if l := logs.String(); !strings.Contains(l, "panic in handler") || !strings.Contains(l, "record store bug") {
		t.Errorf("the panic was not logged:\n%s", l)
	}
}
