package server_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ccplane/telephony/internal/testenv"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/sipengine"
)

// TestRPCLogsNameTheCall checks that the line the logging interceptor writes for each RPC
// carries the call id (and the gateway where the request names one), PlaceCall's new id
// included, so that one call's API traffic can be found in the logs.
func TestRPCLogsNameTheCall(t *testing.T) {
	uas := testenv.StartSIPp(t, "reject", testenv.SIPpOptions{Keys: map[string]string{"code": "486", "reason": "Busy Here", "q850": "17"}})
	var logs testenv.Buffer
	st := startStack(t, stackConfig{gateways: []sipengine.Gateway{{Name: "sipp", Address: uas.Addr()}}, logs: &logs})
	placed, err := st.client.PlaceCall(context.Background(), &telephonyv1.PlaceCallRequest{Gateway: "sipp", To: "4951230486"})
	if err != nil {
		t.Fatal(err)
	}
	id := placed.GetCall().GetCallId()
	if _, err := watch(t, st.client, id, 0, nil); err != nil {
		t.Fatal(err)
	}
	uas.Wait(t)
	for _, method := range []string{"PlaceCall", "WatchCall"} {
		var line string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "finished call") && strings.Contains(l, "grpc.method="+method) {
				line = l
			}
		}
		if !strings.Contains(line, "call_id="+id) {
			t.Errorf("%s log line %q does not name call %s", method, line, id)
		}
		// WatchCall's line comes from streamLogger, PlaceCall's from the middleware: an
		// operator's queries must work on both.
		for _, key := range []string{"protocol=grpc", "grpc.component=server", "grpc.service=telephony.v1.CallService",
			"grpc.method_type=", "peer.address=", "grpc.start_time=", "grpc.code=OK", "grpc.time_ms="} {
			if !strings.Contains(line, " "+key) {
				t.Errorf("%s log line %q lacks %s", method, line, key)
			}
		}
		if method == "PlaceCall" && !strings.Contains(line, "gateway_id=sipp") {
			t.Errorf("PlaceCall log line %q does not name the gateway", line)
		}
	}
}
