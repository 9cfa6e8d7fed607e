package main

import (
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/ccplane/telephony/client"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
)

// printJSON writes m as protojson on one line.
func (a *app) printJSON(m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %T: %w", m, err)
	}
	b = append(b, '\n')
	_, err = a.stdout.Write(b)
	return err
}

// printCall writes a call as JSON or as a human block.
func (a *app) printCall(c *telephonyv1.Call) error {
	if a.global.json {
		return a.printJSON(c)
	}
	_, err := fmt.Fprint(a.stdout, client.FormatCall(c, a.now()))
	return err
}

// describeError renders an error for stderr: "callctl: <code>: <message>" for a gRPC
// status (with the ErrorInfo reason, e.g. DIRECTION_BLOCKED, when there is one), and
// "callctl: <message>" for a local error such as an unreadable file.
func describeError(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return "callctl: " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "callctl: %s: %s", st.Code(), st.Message())
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() != "" {
			fmt.Fprintf(&b, " (%s)", info.GetReason())
		}
	}
	return b.String()
}
