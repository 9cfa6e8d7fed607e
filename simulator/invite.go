package simulator

import (
	"log/slog"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// provisionalGap spaces the "999" burst of 18x.
const provisionalGap = 50 * time.Millisecond

// call is one INVITE server transaction being played by a script. It belongs to the INVITE
// handler's goroutine: sipgo-notes P9 wants every response sent from inside the handler.
type call struct {
	g   *Gateway
	req *sip.Request
	tx  sip.ServerTransaction
	log *slog.Logger
	// tag is our To-tag, the same on every response but the 100 (RFC 3261 §8.2.6.2).
	tag string
	// canceled is closed when a CANCEL matched the transaction: sipgo has then answered the
	// CANCEL with 200 and the INVITE with 487 on its own, and absorbs the ACK for the 487.
	canceled chan struct{}
	sdp      []byte // our answer, for the 183s and the 200
	final    bool   // a final response went out
}

func (g *Gateway) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	s := scriptFor(req.Recipient.User)
	if s.action == actSilent {
		// sipgo sends 100 Trying by itself 200ms after an INVITE that has no response
		// (Timer_1xx); terminating the transaction now is the only way to stay silent. Each
		// retransmission opens a new transaction and ends up here again.
		tx.Terminate()
		return
	}
	if req.To() == nil || req.From() == nil || req.CallID() == nil || req.Contact() == nil {
		// Without Contact there is nowhere to send our BYE; the rest is RFC 3261 §8.1.1.
		g.respondPlain(req, tx, 400, "Bad Request")
		return
	}
	if tag, _ := req.To().Params.Get("tag"); tag != "" {
		g.onReinvite(req, tx)
		return
	}
	c := g.newCall(req, tx)
	if c == nil {
		return
	}
	c.log.Debug("invite", "behaviour", s.Suffix, "transport", req.Transport())
	c.play(s)
	c.finish()
}

func (g *Gateway) newCall(req *sip.Request, tx sip.ServerTransaction) *call {
	c := &call{
		g: g, req: req, tx: tx, tag: sip.GenerateTagN(16),
		log:      g.log.With("call_id", req.CallID().Value()),
		canceled: make(chan struct{}),
		sdp:      g.sdpAnswer(),
	}
	var once sync.Once
	// The callback runs under the transaction's FSM lock, so it only signals. It can run
	// even when OnCancel reports false (a CANCEL racing the registration), hence the Once.
	if !tx.OnCancel(func(*sip.Request) { once.Do(func() { close(c.canceled) }) }) {
		c.log.Debug("invite canceled or terminated before it was played")
		return nil
	}
	return c
}

// play runs the script until a final response, a CANCEL or shutdown.
func (c *call) play(s script) {
	cfg := c.g.cfg
	if s.action == actChallenge {
		switch c.g.auth.verify(c.req) {
		case authMissing:
			chal := c.g.auth.challenge(c.req.CallID().Value())
			c.respond(407, "Proxy Authentication Required", nil, sip.NewHeader("Proxy-Authenticate", chal))
			return
		case authFailed:
			c.respond(403, "Forbidden", nil, sip.NewHeader("Reason", reasonValue(21)))
			return
		}
	}
	if !c.pause(cfg.TryingDelay) || !c.respond(100, "Trying", nil) || !c.pause(cfg.RingDelay) {
		return
	}
	switch s.action {
	case actReject:
		if s.progress != 0 && (!c.progress(s.progress) || !c.pause(cfg.AnswerDelay)) {
			return
		}
		c.respond(s.status, s.reason, nil, sip.NewHeader("Reason", reasonValue(s.cause)))
	case actRing:
		if c.progress(s.progress) {
			c.ringUntilCancel()
		}
	case actManyProvisionals:
		for i := range manyProvisionals {
			code := 180
			if i%2 == 1 {
				code = 183
			}
			if (i > 0 && !c.pause(provisionalGap)) || !c.progress(code) {
				return
			}
		}
		if c.pause(cfg.AnswerDelay) {
			c.answer(false)
		}
	default: // actAnswer, actAnswerThenBye, and actChallenge once authorised
		if c.progress(s.progress) && c.pause(cfg.AnswerDelay) {
			c.answer(s.action == actAnswerThenBye)
		}
	}
}

// finish covers the one way a call ends without a final response of ours or sipgo's 487:
// shutdown. The caller hears 503 instead of waiting for Timer B.
func (c *call) finish() {
	if c.final || c.isCanceled() {
		return
	}
	c.respond(503, "Service Unavailable", nil, sip.NewHeader("Reason", reasonValue(34)))
}

// progress sends a 180, or a 183 with SDP for early media.
func (c *call) progress(code int) bool {
	if code == 183 {
		return c.respond(183, "Session Progress", c.sdp)
	}
	return c.respond(180, "Ringing", nil)
}

// pause waits d, and reports false if the call was canceled or the gateway is stopping.
func (c *call) pause(d time.Duration) bool {
	if d <= 0 {
		return !c.isCanceled() && c.g.life.Err() == nil && c.tx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.canceled:
	case <-c.tx.Done(): // e.g. the caller's TCP connection dropped
	case <-c.g.life.Done():
	}
	return false
}

func (c *call) ringUntilCancel() {
	select {
	case <-c.canceled:
		c.log.Debug("invite canceled while ringing")
	case <-c.tx.Done():
		c.log.Debug("invite transaction ended while ringing", "err", c.tx.Err())
	case <-c.g.life.Done():
	}
}

func (c *call) isCanceled() bool {
	select {
	case <-c.canceled:
		return true
	default:
		return false
	}
}

// answer sends 200 with SDP, retransmits it until the ACK, and for a "200" call schedules
// the gateway's BYE.
func (c *call) answer(hangUp bool) {
	d := c.g.addDialog(c)
	res := c.response(200, "OK", c.sdp)
	if !c.send(res) {
		c.g.dropDialog(d)
		return
	}
	acked := c.awaitAck(d, res)
	switch {
	case c.g.life.Err() != nil:
		// Stopping: the dialog is simply dropped, as by a gateway that goes away.
	case !acked:
		// RFC 3261 §13.3.1.4: a 2xx never ACKed within 64*T1 ends the session with BYE, unless
		// the caller has already hung up.
		c.g.spawn(func() { c.g.hangUp(d, 0) })
	case hangUp:
		c.g.spawn(func() { c.g.hangUp(d, c.g.cfg.TalkTime) })
	}
}

// awaitAck plays the UAS core's part of RFC 3261 §13.3.1.4: the transaction does not
// retransmit a 2xx (RFC 6026), so we do, from T1 doubling up to T2.
func (c *call) awaitAck(d *dialog, res *sip.Response) bool {
	interval := sip.T1
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	giveUp := time.NewTimer(64 * sip.T1)
	defer giveUp.Stop()
	for {
		select {
		case <-d.acked:
			return true
		case <-c.tx.Acks():
			// Only a caller that reuses the INVITE's branch for the 2xx ACK gets here; RFC
			// 3261 ACKs come through onAck.
			d.ack()
			return true
		case <-d.ended:
			return false
		case <-c.g.life.Done():
			return false
		case <-giveUp.C:
			c.log.Warn("no ack for 200, hanging up")
			return false
		case <-retransmit.C:
			if err := c.tx.Respond(res); err != nil {
				c.log.Debug("200 retransmission failed", "err", err)
			}
			interval = min(2*interval, sip.T2)
			retransmit.Reset(interval)
		}
	}
}

// respond builds and sends a response to the INVITE; false means the script must stop.
func (c *call) respond(code int, reason string, body []byte, hdrs ...sip.Header) bool {
	res := c.response(code, reason, body)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return c.send(res)
}

func (c *call) response(code int, reason string, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(c.req, code, reason, body)
	if code > 100 {
		// sipgo would put a fresh random tag on each response.
		res.To().Params.Add("tag", c.tag)
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	if code > 100 && code < 300 {
		res.AppendHeader(c.g.contact(c.req.Transport()))
	}
	return res
}

func (c *call) send(res *sip.Response) bool {
	// After a CANCEL, Respond would replace the 487 that the transaction keeps for its
	// retransmissions: the FSM stores a response before it decides to ignore it
	// (sip/transaction.go spinFsmWithResponse). Looking first narrows that race to nothing
	// a caller can hit in practice.
	if c.isCanceled() {
		return false
	}
	if err := c.tx.Respond(res); err != nil {
		c.log.Debug("respond failed", "sip_status", res.StatusCode, "err", err)
		return false
	}
	if !res.IsProvisional() {
		c.final = true
	}
	return true
}

// onReinvite answers a refresh inside a dialog with the same SDP; anything else is 481.
func (g *Gateway) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	d := g.findDialog(req)
	if d == nil {
		g.respondPlain(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", d.sdp)
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.AppendHeader(g.contact(req.Transport()))
	if err := tx.Respond(res); err != nil {
		g.log.Debug("respond failed", "sip_status", 200, "err", err)
	}
}
