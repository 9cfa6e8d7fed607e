package sipengine

import (
	"context"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// registerHandlers answers what gateways send us. Every handler responds before it returns:
// sipgo terminates a server transaction as soon as its handler returns.
func (e *Engine) registerHandlers() {
	e.srv.OnBye(e.onBye)
	e.srv.OnInvite(e.onInvite)
	// ACKs for our 2xx to a re-INVITE need nothing; without a handler sipgo would answer 405.
	e.srv.OnAck(func(*sip.Request, sip.ServerTransaction) {})
	e.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE"))
		e.respond(tx, res)
	})
	e.srv.OnUpdate(func(req *sip.Request, tx sip.ServerTransaction) {
		e.inDialog(req, tx, 200, "OK")
	})
	// A CANCEL that matches a transaction of ours is absorbed by sipgo; this one matched none.
	e.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {
		e.respond(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
}

// onBye answers a BYE from the gateway and hands it to its call.
func (e *Engine) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := e.match(req)
	if c == nil {
		e.respond(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	e.respond(tx, sip.NewResponseFromRequest(req, 200, "OK", nil))
	select {
	case c.remoteBye <- req:
	default: // a BYE is already on its way to the call
	}
	c.wake()
}

// onInvite refreshes the session of a call of ours (a re-INVITE, e.g. session timers) with
// our unchanged offer, and refuses new calls: this service places calls, it takes none.
func (e *Engine) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to == nil || !to.Params.Has("tag") {
		e.respond(tx, sip.NewResponseFromRequest(req, 403, "Inbound Calls Not Accepted", nil))
		return
	}
	c := e.match(req)
	if c == nil {
		e.respond(tx, sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	d := c.dialog.Load()
	if d == nil {
		// Our INVITE is still in progress (RFC 3261 §14.2).
		e.respond(tx, sip.NewResponseFromRequest(req, 491, "Request Pending", nil))
		return
	}
	res := sip.NewSDPResponseFromRequest(req, []byte(c.offer))
	res.AppendHeader(sip.HeaderClone(d.contact))
	e.respond(tx, res)
}

func (e *Engine) inDialog(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	if e.match(req) == nil {
		code, reason = 481, "Call/Transaction Does Not Exist"
	}
	e.respond(tx, sip.NewResponseFromRequest(req, code, reason, nil))
}

// match finds the live call an in-dialog request belongs to: its Call-ID, and our From tag
// as its To tag.
func (e *Engine) match(req *sip.Request) *Call {
	cid, to := req.CallID(), req.To()
	if cid == nil || to == nil {
		return nil
	}
	c := e.lookup(cid.Value())
	if c == nil {
		return nil
	}
	if tag, _ := to.Params.Get("tag"); tag != c.localTag {
		return nil
	}
	return c
}

func (e *Engine) respond(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		e.log.Debug("respond failed", "status", res.StatusCode, "err", err)
	}
}

// strayResponse handles responses that match no transaction. The ones that matter are 2xx
// to our INVITEs, handled by late2xx; anything else is a retransmission and is dropped.
func (e *Engine) strayResponse(res *sip.Response) {
	cseq := res.CSeq()
	if cseq == nil || cseq.MethodName != sip.INVITE || !res.IsSuccess() || res.CallID() == nil || res.From() == nil || res.To() == nil {
		e.log.Debug("stray response dropped", "status", res.StatusCode)
		return
	}
	e.log.Debug("2xx without transaction", "sip_call_id", res.CallID().Value())
	e.late2xx(res)
}

// late2xx handles a 2xx to one of our INVITEs that is not the first: a retransmission, while
// the INVITE transaction lasts or after it was released, or one that no call waits for. The
// caller checked that it has From, To, Call-ID and CSeq.
//
// One that belongs to the dialog of a live call means the gateway did not get our ACK: it is
// acknowledged again. Any other (it crossed our CANCEL after EndGrace, arrived after a setup
// timeout or after the call ended, or came from a second callee) would leave a callee
// connected to nobody: it is acknowledged and ended with a BYE.
func (e *Engine) late2xx(res *sip.Response) {
	key := res.CallID().Value()
	if c := e.lookup(key); c != nil {
		if d := c.dialog.Load(); d != nil && d.matches(res) {
			if err := c.cli.WriteRequest(d.ack()); err != nil {
				e.log.Warn("2xx retransmission: ack failed", "sip_call_id", key, "err", err)
			}
			e.log.Debug("2xx retransmission acknowledged", "sip_call_id", key)
			return
		}
	}
	d := strayDialog(res)
	cli := e.client(Transport(strings.ToLower(res.Transport())))
	if err := cli.WriteRequest(d.ack()); err != nil {
		e.log.Warn("stray 2xx: ack failed", "sip_call_id", key, "err", err)
	}
	// Each callee that answered is a dialog of its own, to be ended once.
	id := key + "/" + tag(res.To().Params)
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, busy := e.strays[id]; busy || e.isStopping() {
		return // its retransmissions only need the ACK again
	}
	e.strays[id] = struct{}{}
	e.background.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.EndGrace)
		defer cancel()
		if _, err := cli.Do(ctx, d.bye()); err != nil {
			e.log.Warn("stray 2xx: bye failed", "sip_call_id", key, "err", err)
		}
		e.log.Info("stray 2xx ended", "sip_call_id", key)
		e.mu.Lock()
		delete(e.strays, id)
		e.mu.Unlock()
	})
}
