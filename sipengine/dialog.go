package sipengine

import "github.com/emiago/sipgo/sip"

// dialog is what a 2xx to our INVITE establishes (RFC 3261 §12.1.2): all that our ACK and
// BYE need, so that of the INVITE and the 2xx only these few headers stay for the life of
// the call. It never changes once made, so any goroutine may read it.
type dialog struct {
	callID       sip.CallIDHeader
	from         *sip.FromHeader    // ours, with our tag
	to           *sip.ToHeader      // theirs, with their tag
	contact      *sip.ContactHeader // ours; none for a stray 2xx
	remoteTarget sip.Uri
	routes       []sip.Header // Route headers: the 2xx's Record-Route in reverse order
	transport    string
	cseq         uint32 // the INVITE's CSeq number
}

// newDialog makes the dialog that res establishes for our INVITE inv. It shares inv's
// headers, which nobody changes once the INVITE is sent.
func newDialog(inv *sip.Request, res *sip.Response) *dialog {
	d := &dialog{
		callID:       *inv.CallID(),
		from:         inv.From(),
		to:           res.To(),
		contact:      inv.Contact(),
		remoteTarget: inv.Recipient,
		transport:    inv.Transport(),
		cseq:         inv.CSeq().SeqNo,
	}
	if d.to == nil {
		// A 2xx without To breaks RFC 3261 §8.2.6.2; end the call with the INVITE's To
		// rather than crash on it.
		d.to = inv.To()
	}
	d.follow(res)
	return d
}

// strayDialog rebuilds enough of a dialog from a 2xx alone to ACK and end it, for a 2xx whose
// INVITE is gone. The caller checked that it has From, To, Call-ID and CSeq.
func strayDialog(res *sip.Response) *dialog {
	d := &dialog{
		callID:       *res.CallID(),
		from:         res.From(),
		to:           res.To(),
		remoteTarget: res.To().Address,
		transport:    res.Transport(),
		cseq:         res.CSeq().SeqNo,
	}
	d.follow(res)
	return d
}

// follow takes the remote target and the route set from the 2xx.
func (d *dialog) follow(res *sip.Response) {
	if ct := res.Contact(); ct != nil {
		d.remoteTarget = ct.Address
	}
	// A copy of its own: the URI's parameters would otherwise share the message's.
	d.remoteTarget = *d.remoteTarget.Clone()
	rr := res.GetHeaders("Record-Route")
	for i := len(rr) - 1; i >= 0; i-- {
		d.routes = append(d.routes, sip.NewHeader("Route", rr[i].Value()))
	}
}

// matches reports whether res belongs to this dialog: same Call-ID and tags.
func (d *dialog) matches(res *sip.Response) bool {
	from, to, cid := res.From(), res.To(), res.CallID()
	return from != nil && to != nil && cid != nil && *cid == d.callID &&
		tag(from.Params) == tag(d.from.Params) && tag(to.Params) == tag(d.to.Params)
}

func tag(p sip.HeaderParams) string {
	t, _ := p.Get("tag")
	return t
}

// request builds a request of the dialog: From, To, Call-ID and Contact, the route set, and
// the given CSeq number. Via is left to the client.
func (d *dialog) request(method sip.RequestMethod, seq uint32) *sip.Request {
	r := sip.NewRequest(method, d.remoteTarget)
	for _, h := range d.routes {
		r.AppendHeader(h)
	}
	r.AppendHeader(sip.HeaderClone(d.from))
	r.AppendHeader(sip.HeaderClone(d.to))
	cid := d.callID
	r.AppendHeader(&cid)
	r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	if d.contact != nil {
		r.AppendHeader(sip.HeaderClone(d.contact))
	}
	r.SetTransport(d.transport)
	return r
}

// ack builds the ACK for the 2xx: a new transaction of its own, same CSeq number as the
// INVITE.
func (d *dialog) ack() *sip.Request { return d.request(sip.ACK, d.cseq) }

// bye builds our BYE; its CSeq follows the INVITE's (RFC 3261 §12.2.1.1).
func (d *dialog) bye() *sip.Request { return d.request(sip.BYE, d.cseq+1) }
