package testenv

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSIPpRejectPlaysKeys(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			uas := StartSIPp(t, "reject", SIPpOptions{Transport: transport, Timeout: 10 * time.Second,
				Keys: map[string]string{"code": "486", "reason": "Busy Here", "q850": "17"}})
			c := dialSIP(t, transport, uas.Addr())
			c.send(t, c.request("INVITE", "", 1))

			var final string
			for final == "" {
				msg := c.read(t)
				if code := statusCode(msg); code >= 200 {
					final = msg
				}
			}
			if got, want := startLine(final), "SIP/2.0 486 Busy Here"; got != want {
				t.Errorf("final response: got %q, want %q", got, want)
			}
			if got, want := header(final, "Reason"), "Q.850;cause=17"; got != want {
				t.Errorf("Reason: got %q, want %q", got, want)
			}
			c.send(t, c.request("ACK", header(final, "To"), 1))

			uas.Wait(t)
			if !strings.Contains(uas.Messages(), "ACK sip:") {
				t.Errorf("SIPp's trace has no ACK:\n%s", uas.Messages())
			}
		})
	}
}

// A CANCEL before any provisional breaks RFC 3261 9.1: silence.xml must fail the call, and
// Wait must say so with SIPp's own explanation.
func TestSIPpWaitReportsFailedCall(t *testing.T) {
	t.Parallel()
	uas := StartSIPp(t, "silence", SIPpOptions{Timeout: 10 * time.Second})
	c := dialSIP(t, "udp", uas.Addr())
	c.send(t, c.request("INVITE", "", 1))
	c.send(t, c.request("CANCEL", "", 1))

	r := &recorder{TB: t}
	uas.Wait(r)
	got := strings.Join(r.failures, "\n")
	for _, want := range []string{"exited with status 1", "unexpected CANCEL", "CANCEL sip:"} {
		if !strings.Contains(got, want) {
			t.Errorf("Wait reported: got %q, want it to contain %q", got, want)
		}
	}
}

func TestStartSIPpFails(t *testing.T) {
	tests := []struct {
		name     string
		path     string // PATH for the test; empty keeps the real one
		scenario string
		opts     SIPpOptions
		want     []string
	}{
		{name: "sipp missing", path: "/nonexistent", scenario: "silence",
			want: []string{"sip-tester", "./scripts/test"}},
		{name: "unknown scenario", scenario: "no_such_thing",
			want: []string{`no scenario "no_such_thing"`, "ring_forever"}},
		{name: "unknown transport", scenario: "silence", opts: SIPpOptions{Transport: "sctp"},
			want: []string{`transport "sctp"`}},
		// SIPp refuses the scenario before binding; its reason must reach the developer.
		{name: "missing key", scenario: "reject", opts: SIPpOptions{Keys: map[string]string{"code": "486"}},
			want: []string{"exited before it was ready", "Unsupported keyword"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantFailure(t, "StartSIPp", tc.path, func(tb testing.TB) { StartSIPp(tb, tc.scenario, tc.opts) }, tc.want)
		})
	}
}

// Cleanup must stop SIPp, and flag a test that never asked for SIPp's verdict.
func TestSIPpCleanup(t *testing.T) {
	t.Parallel()
	var (
		port int
		r    *recorder
	)
	t.Run("forgets Wait", func(t *testing.T) {
		r = &recorder{TB: t}
		uas := StartSIPp(r, "silence", SIPpOptions{})
		_, p, _ := net.SplitHostPort(uas.Addr())
		port, _ = strconv.Atoi(p)
	})
	if got := strings.Join(r.failures, "\n"); !strings.Contains(got, "Wait was never called") {
		t.Errorf("cleanup reported: got %q, want a complaint that Wait was never called", got)
	}
	if portBound("udp", port) {
		t.Errorf("port %d still bound after the test ended", port)
	}
}

// recorder stands in for a test that a helper is expected to fail: it records Errorf and
// Fatal(f) instead of failing, and Fatal(f) ends the goroutine as the real ones do.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) {
	r.failures = append(r.failures, fmt.Sprint(args...))
	runtime.Goexit()
}

// wantFailure runs start, with PATH set to path unless it is "", and checks that it failed
// with a message containing each of want. name names start in the errors.
func wantFailure(t *testing.T, name, path string, start func(testing.TB), want []string) {
	t.Helper()
	if path != "" {
		t.Setenv("PATH", path)
	}
	got := failureOf(t, start)
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s failure: got %q, want it to contain %q", name, got, w)
		}
	}
}

// failureOf runs f on its own goroutine, because a Fatal ends the goroutine it is called
// on, and returns what f failed with.
func failureOf(t *testing.T, f func(testing.TB)) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return strings.Join(r.failures, "\n")
}

// sipClient is the smallest UAC that drives a scenario here: one connection (a connected
// UDP socket or a TCP stream) and requests of one call written out in full.
type sipClient struct {
	conn      net.Conn
	r         *bufio.Reader
	transport string
	target    string
}

func dialSIP(t *testing.T, transport, addr string) *sipClient {
	t.Helper()
	conn, err := net.Dial(transport, addr)
	if err != nil {
		t.Fatalf("dial %s %s: %v", transport, addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &sipClient{conn: conn, r: bufio.NewReader(conn), transport: transport, target: addr}
}

// request writes a request of the client's one call. to is the To header value, empty for
// the INVITE's own (no tag). Every request reuses the INVITE's branch: CANCEL and the ACK
// of a non-2xx final belong to the INVITE transaction (RFC 3261 9.1, 17.1.1.3).
func (c *sipClient) request(method, to string, cseq int) string {
	local := c.conn.LocalAddr().String()
	if to == "" {
		to = fmt.Sprintf("<sip:+15550100200@%s>", c.target)
	}
	return fmt.Sprintf("%s sip:+15550100200@%s SIP/2.0\r\n"+
		"Via: SIP/2.0/%s %s;branch=z9hG4bK-testenv-1\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: <sip:15550001111@%s>;tag=testenv\r\n"+
		"To: %s\r\n"+
		"Call-ID: testenv-%s\r\n"+
		"CSeq: %d %s\r\n"+
		"Contact: <sip:15550001111@%s;transport=%s>\r\n"+
		"Content-Length: 0\r\n\r\n",
		method, c.target, strings.ToUpper(c.transport), local, local, to, local, cseq, method, local, c.transport)
}

func (c *sipClient) send(t *testing.T, msg string) {
	t.Helper()
	if _, err := io.WriteString(c.conn, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
}

// read returns the next message: its header block up to the blank line, then Content-Length
// bytes of body, which is how a stream is framed (and harmless on a datagram).
func (c *sipClient) read(t *testing.T) string {
	t.Helper()
	if err := c.conn.SetReadDeadline(time.Now().Add(WaitFor)); err != nil {
		t.Fatal(err)
	}
	var msg strings.Builder
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v (so far %q)", err, msg.String())
		}
		msg.WriteString(line)
		if line == "\r\n" && msg.Len() > 2 {
			break
		}
	}
	n, _ := strconv.Atoi(header(msg.String(), "Content-Length"))
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return msg.String() + string(body)
}

func startLine(msg string) string {
	line, _, _ := strings.Cut(msg, "\r\n")
	return line
}

// statusCode returns a response's status code, or 0 for a request.
func statusCode(msg string) int {
	rest, ok := strings.CutPrefix(startLine(msg), "SIP/2.0 ")
	if !ok {
		return 0
	}
	code, _ := strconv.Atoi(rest[:min(3, len(rest))])
	return code
}

// header returns the value of the first header called name, or "".
func header(msg, name string) string {
	for _, line := range strings.Split(msg, "\r\n")[1:] {
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
