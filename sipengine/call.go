package sipengine

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccplane/telephony"
)

// run drives the call from the INVITE until it is over, or answered and idle: such a call
// sleeps with no goroutine until something ends it (see sleep). Only one goroutine at a time
// runs a call and touches its SIP state; the engine waits for every call on shutdown.
func (c *Call) run(tx sip.ClientTransaction) {
	tx, ok := c.inviting(tx)
	if ok == nil {
		c.finish()
		return
	}
	c.answered(tx, ok)
	if !c.ending() && c.sleep() {
		return
	}
	c.wrapUp()
}

// inviting follows the INVITE transaction until its final response, or until we give up on
// it. It returns the 2xx (and its transaction) when one arrived, also one that crossed our
// CANCEL; nil when the call ended unanswered.
//
// sipgo stops Timer B at the first 1xx and has no Timer C, so the ring timeout and the setup
// timeout are ours. Every response is read here: an unread response blocks the transaction.
func (c *Call) inviting(tx sip.ClientTransaction) (sip.ClientTransaction, *sip.Response) {
	setup := time.NewTimer(c.e.cfg.SetupTimeout)
	defer setup.Stop()
	ring := time.NewTimer(c.ringTimeout)
	defer ring.Stop()
	var grace <-chan time.Time
	hangup, stopping, remoteBye := c.hangup, c.e.stopping, c.remoteBye
	var cancelTx sip.ClientTransaction
	var cancelRes <-chan *sip.Response
	var cancelDone <-chan struct{}
	// Nobody reads the CANCEL's responses once the call is over, and an unread response
	// would block its transaction until Timer F.
	defer func() {
		if cancelTx != nil {
			cancelTx.Terminate()
		}
	}()
	responded, authTried, cancelPending := false, false, false

	// sendCancel sends the CANCEL and gives the provider EndGrace to confirm it. When it
	// cannot be sent, the INVITE transaction is dropped and it reports false: the call ends.
	sendCancel := func() bool {
		// The deadline only bounds a TCP/TLS reconnect; the transaction does not keep it.
		ctx, cancel := context.WithTimeout(context.Background(), c.e.cfg.EndGrace)
		defer cancel()
		var err error
		cancelTx, err = c.cli.TransactionRequest(ctx, cancelFor(c.inv), sipgo.ClientRequestBuild)
		if err != nil {
			cancelTx = nil // sipgo returns a typed nil
			c.e.log.Warn("cancel failed", "sip_call_id", c.SIPCallID, "err", err)
			tx.Terminate()
			return false
		}
		c.emit(Event{Kind: EventRequest, Method: "CANCEL"})
		cancelRes, cancelDone = cancelTx.Responses(), cancelTx.Done()
		grace = time.After(c.e.cfg.EndGrace)
		return true
	}
	// giveUp stops waiting for an answer. RFC 3261 §9.1 forbids a CANCEL before a
	// provisional response, so without one the CANCEL waits for it (EndGrace at most; then
	// the transaction is dropped). The call ends when the INVITE gets its final response
	// (487, or a 200 that crossed the CANCEL) or when the grace runs out. It reports whether
	// the call must end now.
	giveUp := func() bool {
		hangup, stopping, remoteBye = nil, nil, nil
		ring.Stop()
		if !responded {
			cancelPending = true
			grace = time.After(c.e.cfg.EndGrace)
			return false
		}
		return !sendCancel()
	}

	for {
		select {
		case res := <-tx.Responses():
			if !responded {
				responded = true
				setup.Stop()
			}
			if res.IsProvisional() {
				c.provisionals++
			}
			if res.IsProvisional() && c.provisionals > maxReportedProvisionals {
				// A gateway that repeats 18x forever must not grow the call's history
				// without bound; the call still follows them.
				c.provisional(res)
				continue
			}
			c.reportResponse(res)
			switch {
			case res.IsProvisional():
				c.provisional(res)
				if cancelPending {
					cancelPending = false
					if !sendCancel() {
						return nil, nil
					}
				}
			case res.IsSuccess():
				c.awaitCancelAnswer(cancelRes)
				return tx, res
			case !authTried && !c.ending() && c.challenged(res):
				authTried = true
				next, err := c.authenticate(res)
				if err != nil {
					c.e.log.Warn("digest auth failed", "sip_call_id", c.SIPCallID, "err", err)
					c.rejected(res)
					return nil, nil
				}
				tx = next
				c.emit(Event{Kind: EventRequest, Method: "INVITE"})
				// The retry is a new transaction: the provider owes it a response of its own
				// within the setup time, and only its provisionals allow a CANCEL.
				responded = false
				setup.Reset(c.e.cfg.SetupTimeout)
			default:
				c.rejected(res)
				c.awaitCancelAnswer(cancelRes)
				return nil, nil
			}
		case <-tx.Done():
			// Terminated without a final response: Timer B or a broken connection.
			if !c.ending() {
				c.out.kill, c.err = telephony.CauseTransportError, tx.Err()
				if errors.Is(tx.Err(), sip.ErrTransactionTimeout) && !responded {
					c.out.kill = telephony.CauseSetupTimeout
				}
			}
			return nil, nil
		case <-setup.C:
			// Not a word from the provider: nothing to CANCEL (RFC 3261 §9.1), so the INVITE
			// transaction is dropped. A 2xx that still comes is ended by strayResponse.
			if !c.ending() {
				c.out.kill = telephony.CauseSetupTimeout
			}
			tx.Terminate()
			return nil, nil
		case <-ring.C:
			c.out.kill = telephony.CauseRingTimeout
			if giveUp() {
				return nil, nil
			}
		case <-hangup:
			c.out.kill = telephony.CauseHangupRequested
			if giveUp() {
				return nil, nil
			}
		case <-stopping:
			c.out.kill = telephony.CauseShutdown
			if giveUp() {
				return nil, nil
			}
		case bye := <-remoteBye:
			c.byeReceived(bye)
			if giveUp() {
				return nil, nil
			}
		case res := <-cancelRes:
			c.reportResponse(res)
			if !res.IsProvisional() {
				cancelRes = nil
			}
		case <-cancelDone:
			cancelRes, cancelDone = nil, nil
		case <-grace:
			// The provider never confirmed our CANCEL (or never sent the provisional it must
			// follow); the call is over for us. Should a 200 still come, strayResponse
			// acknowledges and ends it.
			tx.Terminate()
			return nil, nil
		}
	}
}

// maxReportedProvisionals bounds the provisional responses a call reports as events; a
// dozen is common, hundreds are a broken or hostile gateway.
const maxReportedProvisionals = 100

// cancelAnswerWait bounds the wait for the 200 to our CANCEL once the INVITE has its final
// response. sipgo hands each message to its own goroutine, so that 200 may reach us after
// the 487 even when the gateway sent it first; waiting a moment keeps it in the call's
// history instead of dropping it with the transaction.
const cancelAnswerWait = 200 * time.Millisecond

func (c *Call) awaitCancelAnswer(cancelRes <-chan *sip.Response) {
	if cancelRes == nil {
		return
	}
	t := time.NewTimer(cancelAnswerWait)
	defer t.Stop()
	for {
		select {
		case res := <-cancelRes:
			c.reportResponse(res)
			if !res.IsProvisional() {
				return
			}
		case <-t.C:
			return
		}
	}
}

func (c *Call) ending() bool { return c.out.kill != 0 || c.out.remoteBye }

func (c *Call) byeReceived(req *sip.Request) {
	c.out.remoteBye = true
	c.out.reason = parseReason(req.GetHeader("Reason"))
	c.emit(Event{Kind: EventRequest, Method: "BYE", Received: true, Reason: c.out.reason})
}

func (c *Call) reportResponse(res *sip.Response) {
	ev := Event{Kind: EventResponse, Status: status(res), Reason: parseReason(res.GetHeader("Reason"))}
	if cseq := res.CSeq(); cseq != nil {
		ev.Method = string(cseq.MethodName)
	}
	if hasSDP(res) {
		ev.SDP = string(res.Body())
	}
	c.emit(ev)
}

func (c *Call) provisional(res *sip.Response) {
	// A 100 that arrives late (UDP reorders) must not hide the 18x before it.
	if res.StatusCode != 100 || c.out.provisional.Code <= 100 {
		c.out.provisional = status(res)
	}
	switch {
	case res.StatusCode == 100:
		if c.state == telephony.StateDialing {
			c.setState(telephony.StateTrying)
		}
	case hasSDP(res):
		c.setState(telephony.StateEarlyMedia)
	default:
		c.setState(telephony.StateRinging)
	}
}

func (c *Call) rejected(res *sip.Response) {
	st := status(res)
	c.out.final = &st
	if !c.ending() {
		c.out.reason = parseReason(res.GetHeader("Reason"))
	}
}

func (c *Call) challenged(res *sip.Response) bool {
	return (res.StatusCode == 401 || res.StatusCode == 407) && c.auth.Username != ""
}

// authenticate answers a 401/407 once with the gateway's credentials: a new INVITE with the
// next CSeq and a new branch. The old request stays with its transaction, which may still
// be acknowledging retransmissions of the challenge.
func (c *Call) authenticate(res *sip.Response) (sip.ClientTransaction, error) {
	next := c.inv.Clone()
	ctx, cancel := context.WithTimeout(context.Background(), c.e.cfg.SetupTimeout)
	defer cancel()
	tx, err := c.cli.TransactionDigestAuth(ctx, next, res, c.auth)
	if err != nil {
		return nil, err
	}
	c.inv = next
	return tx, nil
}

func status(res *sip.Response) telephony.Status {
	return telephony.Status{Code: int(res.StatusCode), Reason: res.Reason}
}

func hasSDP(res *sip.Response) bool {
	ct := res.ContentType()
	return len(res.Body()) > 0 && ct != nil && strings.HasPrefix(strings.ToLower(ct.Value()), "application/sdp")
}
