package sipengine

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"

	"github.com/ccplane/telephony"
)

// DialRequest is one outbound call to place.
type DialRequest struct {
	Gateway     Gateway
	To          string            // normalised number: digits only
	From        string            // caller ID, digits; empty = Gateway.FromUser
	Headers     map[string]string // extra X- headers, checked with CheckHeader
	SDPOffer    string            // empty = Config.DefaultSDP
	RingTimeout time.Duration     // no final response this long after the INVITE → CANCEL
	MaxDuration time.Duration     // answered this long → BYE
	Observer    Observer          // required
	SIPCallID   string            // the INVITE's Call-ID; empty = a new UUID
}

func (r DialRequest) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if err := r.Gateway.Validate(); err != nil {
		return bad("gateway: %v", err)
	}
	if !validNumber(r.To) {
		return bad("to %q is not a number", r.To)
	}
	if r.From != "" && !validNumber(r.From) {
		return bad("from %q is not a number", r.From)
	}
	if len(r.Headers) > MaxHeaders {
		return bad("more than %d headers", MaxHeaders)
	}
	for k, v := range r.Headers {
		if err := CheckHeader(k, v); err != nil {
			return bad("%v", err)
		}
	}
	if r.SDPOffer != "" {
		if err := CheckSDP(r.SDPOffer); err != nil {
			return bad("%v", err)
		}
	}
	if r.RingTimeout <= 0 || r.MaxDuration <= 0 {
		return bad("ring timeout and max duration must be positive")
	}
	if r.Observer == nil {
		return bad("no observer")
	}
	if len(r.SIPCallID) > 128 || strings.IndexFunc(r.SIPCallID, func(c rune) bool { return c <= ' ' || c > '~' }) >= 0 {
		return bad("sip call id %q is not a word", r.SIPCallID)
	}
	return nil
}

// Call is a call placed by Dial. Its methods are safe for concurrent use.
type Call struct {
	// SIPCallID is the Call-ID of the call's INVITE dialog.
	SIPCallID string

	e        *Engine
	cli      *sipgo.Client
	localTag string
	// What the call needs of its DialRequest once the INVITE is built.
	obs                      Observer
	offer                    string // our SDP, given again in answer to a re-INVITE
	ringTimeout, maxDuration time.Duration
	auth                     sipgo.DigestAuth // the gateway's credentials; empty if it has none

	hangupOnce sync.Once
	hangup     chan struct{}          // closed by Hangup
	remoteBye  chan *sip.Request      // the first BYE from the gateway; buffered so the handler never waits
	done       chan struct{}          // closed after the EventEnded was observed
	end        End                    // set before done is closed
	dialog     atomic.Pointer[dialog] // set once answered, for the handlers

	mu     sync.Mutex
	asleep bool // answered and idle, with no goroutine: the next wake-up starts one
	woken  bool // something wants the call ended

	// Owned by the goroutine that runs the call, one at a time.
	inv          *sip.Request // the INVITE in force until the answer (a digest retry replaces it)
	maxDur       *time.Timer  // wakes the call once answered for its MaxDuration
	inviteAt     time.Time
	provisionals int // provisional responses received
	state        telephony.State
	out          outcome
	err          error
}

// Dial sends the INVITE for r and returns as soon as it is written, never waiting for an
// answer. A call that could not be sent (a transport error) is still returned, already ended
// as KILL / TRANSPORT_ERROR; the error is only for a request that was not attempted: ErrClosed
// or ErrInvalid.
func (e *Engine) Dial(ctx context.Context, r DialRequest) (*Call, error) {
	select {
	case <-e.ready:
	default:
		return nil, ErrClosed
	}
	select {
	case <-e.stopping:
		return nil, ErrClosed
	default:
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	if r.SIPCallID == "" {
		r.SIPCallID = uuid.NewString()
	}
	c := &Call{
		SIPCallID:   r.SIPCallID,
		e:           e,
		cli:         e.client(r.Gateway.Transport),
		localTag:    sip.GenerateTagN(16),
		obs:         r.Observer,
		offer:       r.SDPOffer,
		ringTimeout: r.RingTimeout,
		maxDuration: r.MaxDuration,
		auth:        sipgo.DigestAuth{Username: r.Gateway.Username, Password: r.Gateway.Password},
		hangup:      make(chan struct{}),
		remoteBye:   make(chan *sip.Request, 1),
		done:        make(chan struct{}),
		state:       telephony.StateDialing,
	}
	if c.offer == "" {
		c.offer = e.cfg.DefaultSDP
	}
	c.inv = c.buildInvite(r)
	if err := e.track(c); err != nil {
		return nil, err
	}

	// ctx bounds only connection set-up (TCP connect, TLS handshake); the caller going away
	// must not abort a call that is being placed.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cfg.SetupTimeout)
	defer cancel()
	c.inviteAt = e.cfg.Now()
	tx, err := c.cli.TransactionRequest(sendCtx, c.inv)
	if err != nil {
		c.out.kill, c.err = telephony.CauseTransportError, err
		c.finish()
		return c, nil
	}
	c.emit(Event{Kind: EventRequest, Method: "INVITE"})
	go c.run(tx)
	return c, nil
}

func (c *Call) buildInvite(r DialRequest) *sip.Request {
	inv := c.e.outOfDialog(sip.INVITE, r.Gateway, r.To, r.From, c.SIPCallID, c.localTag)
	inv.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"))
	// Sorted so that the same request always produces the same message.
	for _, name := range slices.Sorted(maps.Keys(r.Headers)) {
		inv.AppendHeader(sip.NewHeader(name, r.Headers[name]))
	}
	inv.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	inv.SetBody([]byte(c.offer))
	return inv
}

// Hangup asks for the call to end: CANCEL before the answer, BYE after. It returns at once;
// wait on Done for the end. Calling it again, or on an ended call, does nothing.
func (c *Call) Hangup() {
	c.hangupOnce.Do(func() {
		close(c.hangup)
		c.wake()
	})
}

// Done is closed once the call has ended and its EventEnded was observed.
func (c *Call) Done() <-chan struct{} { return c.done }

// End returns how the call ended; valid once Done is closed.
func (c *Call) End() End {
	<-c.done
	return c.end
}

// emit stamps ev and hands it to the observer. Only the goroutine that runs the call calls it.
func (c *Call) emit(ev Event) {
	ev.At = c.e.cfg.Now()
	if !c.inviteAt.IsZero() {
		ev.SinceInvite = ev.At.Sub(c.inviteAt)
	}
	c.obs.Observe(ev)
}

func (c *Call) setState(s telephony.State) {
	if s == c.state {
		return
	}
	c.emit(Event{Kind: EventState, From: c.state, To: s})
	c.state = s
}

// finish records the end: it classifies the outcome, reports it and releases the call.
func (c *Call) finish() {
	c.end = classify(c.out)
	c.end.Err = c.err
	c.setState(telephony.StateEnded)
	c.emit(Event{Kind: EventEnded, End: c.end})
	close(c.done)
	c.e.untrack(c)
}
