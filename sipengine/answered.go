package sipengine

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/ccplane/telephony"
)

// answered takes the 2xx to our INVITE: it makes the dialog, ACKs and starts the call's
// max-duration timer. From here on the dialog holds all the call needs, and the INVITE stays
// only with its transaction.
func (c *Call) answered(tx sip.ClientTransaction, ok *sip.Response) {
	st := status(ok)
	c.out.answer = &st
	d := newDialog(c.inv, ok)
	c.inv = nil
	c.dialog.Store(d)
	c.accepted(tx)
	if err := c.sendAck(d); err != nil && !c.ending() {
		// The callee picked up but cannot hear from us: end the call rather than hold it
		// open to nobody until max_duration.
		c.out.kill, c.err = telephony.CauseTransportError, err
	}
	c.setState(telephony.StateAnswered)
	c.maxDur = time.AfterFunc(c.maxDuration, c.wake)
}

// accepted keeps the INVITE transaction in RFC 6026's Accepted state for AcceptedWindow: a
// 2xx it receives means our ACK was lost (or another callee answered too) and goes to
// late2xx. Then the transaction is released, with the INVITE and the 2xx it holds; late2xx
// still gets any later 2xx, through strayResponse.
func (c *Call) accepted(tx sip.ClientTransaction) {
	tx.OnRetransmission(c.e.late2xx)
	// sipgo ends it at Timer M too; this lets a test make the window shorter.
	time.AfterFunc(c.e.cfg.AcceptedWindow, tx.Terminate)
}

func (c *Call) sendAck(d *dialog) error {
	if err := c.cli.WriteRequest(d.ack()); err != nil {
		c.e.log.Warn("ack failed", "sip_call_id", c.SIPCallID, "err", err)
		return err
	}
	c.emit(Event{Kind: EventRequest, Method: "ACK"})
	return nil
}

// sleep lets the goroutine of an answered, idle call go: its stack would be most of what
// such a call costs. Whatever may end the call (Hangup, a BYE from the gateway, shutdown,
// max duration) wakes it on a new goroutine. sleep reports false when a wake-up came first:
// the caller then goes on with the call.
func (c *Call) sleep() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asleep = !c.woken
	return c.asleep
}

// wake hands a sleeping call to a new goroutine, which ends it; a call that is awake sees
// for itself what woke it.
func (c *Call) wake() {
	c.mu.Lock()
	resume := c.asleep
	c.woken, c.asleep = true, false
	c.mu.Unlock()
	if resume {
		go c.wrapUp()
	}
}

// wrapUp ends an answered call: with the gateway's BYE that woke it, or with ours. When we
// had already given up on the call (the 200 crossed our CANCEL) it is ended at once, as RFC
// 3261 §15 asks.
func (c *Call) wrapUp() {
	defer c.finish()
	c.maxDur.Stop()
	if !c.ending() {
		select {
		case req := <-c.remoteBye:
			c.byeReceived(req)
			return
		case <-c.hangup:
			c.out.kill = telephony.CauseHangupRequested
		case <-c.e.stopping:
			c.out.kill = telephony.CauseShutdown
		default: // nothing else wakes a call
			c.out.kill = telephony.CauseMaxDuration
		}
	}
	c.sendBye()
}

// sendBye sends our BYE and waits for its final response, or EndGrace at most.
func (c *Call) sendBye() {
	// The deadline only bounds a TCP/TLS reconnect; the transaction does not keep it.
	ctx, cancel := context.WithTimeout(context.Background(), c.e.cfg.EndGrace)
	defer cancel()
	tx, err := c.cli.TransactionRequest(ctx, c.dialog.Load().bye())
	if err != nil {
		c.e.log.Warn("bye failed", "sip_call_id", c.SIPCallID, "err", err)
		return
	}
	// Nobody reads its responses once the call is over.
	defer tx.Terminate()
	c.emit(Event{Kind: EventRequest, Method: "BYE"})
	grace := time.NewTimer(c.e.cfg.EndGrace)
	defer grace.Stop()
	for {
		select {
		case res := <-tx.Responses():
			c.reportResponse(res)
			if !res.IsProvisional() {
				return
			}
		case <-tx.Done():
			return
		case <-grace.C:
			return
		case <-c.remoteBye:
			// Both sides said BYE at once: ours decides, and theirs was answered already.
		}
	}
}
