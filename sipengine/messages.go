package sipengine

import (
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/ccplane/telephony"
)

// ourContacts builds our Contact for each transport. Every request and dialog shares them:
// nothing changes a header once it is built.
func ourContacts(host string, port int) map[Transport]*sip.ContactHeader {
	m := make(map[Transport]*sip.ContactHeader, 3)
	for _, t := range []Transport{UDP, TCP, TLS} {
		u := sip.Uri{Scheme: "sip", User: "telephonyd", Host: host, Port: port}
		if t != UDP {
			u.UriParams = sip.HeaderParams{{K: "transport", V: string(t)}}
		}
		m[t] = &sip.ContactHeader{Address: u}
	}
	return m
}

// outOfDialog starts a request outside any dialog (an INVITE, a keep-alive OPTIONS) to gw's
// address over its transport: From with our tag, To, Call-ID, our Contact and User-Agent.
// toUser may be empty (OPTIONS asks the gateway itself); fromUser empty means the gateway's
// default caller ID. Via, CSeq and Max-Forwards are left to sipgo.
func (e *Engine) outOfDialog(method sip.RequestMethod, gw Gateway, toUser, fromUser, callID, tag string) *sip.Request {
	host, portStr, _ := net.SplitHostPort(gw.Address)
	port, _ := strconv.Atoi(portStr)
	ruri := sip.Uri{Scheme: "sip", User: toUser, Host: host, Port: port}
	transport := gw.Transport
	if transport == "" {
		transport = UDP
	}
	if transport != UDP {
		ruri.UriParams = sip.HeaderParams{{K: "transport", V: string(transport)}}
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
	// The dialog keeps this From for the life of the call: its parameters, the tag alone.
	r.AppendHeader(&sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: fromUser, Host: fromHost},
		Params: sip.HeaderParams{{K: "tag", V: tag}}})
	r.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: toUser, Host: host}})
	cid := sip.CallIDHeader(callID)
	r.AppendHeader(&cid)
	r.AppendHeader(e.contacts[transport])
	r.AppendHeader(sip.NewHeader("User-Agent", e.cfg.UserAgent))
	return r
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
