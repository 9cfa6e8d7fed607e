package sipengine

import (
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/ccplane/telephony"
)

// outOfDialog starts a request outside any dialog (an INVITE, a keep-alive OPTIONS) to gw's
// address over its transport: From with our tag, To, Call-ID, our Contact and User-Agent.
// toUser may be empty (OPTIONS asks the gateway itself); fromUser empty means the gateway's
// default caller ID. Via, CSeq and Max-Forwards are left to sipgo.
func (e *Engine) outOfDialog(method sip.RequestMethod, gw Gateway, toUser, fromUser, callID, tag string) *sip.Request {
	host, portStr, _ := net.SplitHostPort(gw.Address)
	port, _ := strconv.Atoi(portStr)
	ruri := sip.Uri{Scheme: "sip", User: toUser, Host: host, Port: port}
	contact := sip.Uri{Scheme: "sip", User: "telephonyd", Host: e.cfg.ExternalHost, Port: e.port}
	if gw.Transport == TCP || gw.Transport == TLS {
		ruri.UriParams = sip.NewParams()
		ruri.UriParams.Add("transport", string(gw.Transport))
		contact.UriParams = sip.NewParams()
		contact.UriParams.Add("transport", string(gw.Transport))
	}
	r := sip.NewRequest(method, ruri)

	if fromUser == "" {
		fromUser = gw.FromUser
	}
	if fromUser == "" {
		fromUser = "anonymous"
	}
	fromHost := gw.FromHost
	if fromHost == "" {
		fromHost = host
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: fromUser, Host: fromHost}}
	from.Params = sip.NewParams()
	from.Params.Add("tag", tag)
	r.AppendHeader(from)
	r.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: toUser, Host: host}})
	cid := sip.CallIDHeader(callID)
	r.AppendHeader(&cid)
	r.AppendHeader(&sip.ContactHeader{Address: contact})
	r.AppendHeader(sip.NewHeader("User-Agent", e.cfg.UserAgent))
	return r
}

// dialog is what a 2xx to our INVITE establishes (RFC 3261 §12.1.2): where in-dialog requests
// go and which route they take.
type dialog struct {
	remoteTarget sip.Uri
	routes       []sip.Header // Route headers: the 2xx's Record-Route in reverse order
	to           *sip.ToHeader
}

func newDialog(inv *sip.Request, res *sip.Response) dialog {
	d := dialog{remoteTarget: *inv.Recipient.Clone(), to: res.To()}
	if d.to == nil {
		// A 2xx without To breaks RFC 3261 §8.2.6.2; end the call with the INVITE's To
		// rather than crash on it.
		d.to = inv.To()
	}
	if ct := res.Contact(); ct != nil {
		d.remoteTarget = *ct.Address.Clone()
	}
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		d.routes = append(d.routes, sip.NewHeader("Route", rr[i].Value()))
	}
	return d
}

// inDialog builds a request of our dialog: From, Call-ID and Contact from the INVITE, To with
// the remote tag, the route set, and the given CSeq number. Via is left to the client.
func (d dialog) inDialog(method sip.RequestMethod, inv *sip.Request, seq uint32) *sip.Request {
	r := sip.NewRequest(method, d.remoteTarget)
	for _, h := range d.routes {
		r.AppendHeader(h)
	}
	r.AppendHeader(sip.HeaderClone(inv.From()))
	r.AppendHeader(sip.HeaderClone(d.to))
	r.AppendHeader(sip.HeaderClone(inv.CallID()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	if ct := inv.Contact(); ct != nil {
		r.AppendHeader(sip.HeaderClone(ct))
	}
	r.SetTransport(inv.Transport())
	return r
}

// ack builds the ACK for a 2xx: a new transaction of its own, same CSeq number as the INVITE.
func (d dialog) ack(inv *sip.Request) *sip.Request {
	return d.inDialog(sip.ACK, inv, inv.CSeq().SeqNo)
}

// bye builds our BYE; its CSeq follows the INVITE's (RFC 3261 §12.2.1.1).
func (d dialog) bye(inv *sip.Request) *sip.Request {
	return d.inDialog(sip.BYE, inv, inv.CSeq().SeqNo+1)
}

// cancelFor builds the CANCEL of an INVITE (RFC 3261 §9.1): same Request-URI, Call-ID, From,
// To, CSeq number and Route, and only the INVITE's top Via, so that the gateway matches it to
// the INVITE transaction.
func cancelFor(inv *sip.Request) *sip.Request {
	r := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	r.AppendHeader(sip.HeaderClone(inv.Via()))
	for _, h := range inv.GetHeaders("Route") {
		r.AppendHeader(sip.HeaderClone(h))
	}
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	r.AppendHeader(sip.HeaderClone(inv.From()))
	r.AppendHeader(sip.HeaderClone(inv.To()))
	r.AppendHeader(sip.HeaderClone(inv.CallID()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	r.SetTransport(inv.Transport())
	r.Laddr = inv.Laddr
	return r
}

// strayDialog rebuilds enough of a dialog from a 2xx alone to ACK and end it, for a 2xx whose
// INVITE transaction is gone (it crossed a CANCEL we stopped waiting for).
func strayDialog(res *sip.Response) (dialog, *sip.Request) {
	inv := sip.NewRequest(sip.INVITE, sip.Uri{})
	if to := res.To(); to != nil {
		inv.Recipient = *to.Address.Clone()
	}
	// The caller checked that From, Call-ID and CSeq are there.
	inv.AppendHeader(sip.HeaderClone(res.From()))
	inv.AppendHeader(sip.HeaderClone(res.CallID()))
	inv.AppendHeader(sip.HeaderClone(res.CSeq()))
	if to := res.To(); to != nil {
		inv.AppendHeader(sip.HeaderClone(to))
	}
	inv.SetTransport(res.Transport())
	return newDialog(inv, res), inv
}

// parseReason reads a Reason header (RFC 3326), e.g. `Q.850;cause=16;text="Normal call
// clearing"`. It returns nil when there is none or it has no protocol.
func parseReason(h sip.Header) *telephony.Reason {
	if h == nil {
		return nil
	}
	// Several reasons may be listed; the first one is the one recorded.
	v, _, _ := strings.Cut(h.Value(), ",")
	parts := strings.Split(v, ";")
	r := &telephony.Reason{Protocol: strings.TrimSpace(parts[0])}
	if r.Protocol == "" {
		return nil
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(k) {
		case "cause":
			r.Cause, _ = strconv.Atoi(val)
		case "text":
			r.Text = strings.Trim(val, `"`)
		}
	}
	return r
}
