package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

// Shared is what the instances of one service share through Redis, so that whichever
// instance a request reaches answers as the call's owner would: the events of the calls
// this instance dials are appended to their streams in Redis, a WatchCall of another
// instance's call follows its stream, and a HangUp reaches the owner through its command
// channel; a call whose owner died is ended as LOST by whoever finds out. Config.Shared nil
// means a single instance.
type Shared struct {
	// Instance is this instance's id, the one its call records are owned by.
	Instance string
	Events   *tracker.EventStreams
	Commands *tracker.Commands
	Owners   Owners
	// OwnerCheck is how long a watcher of another instance's call waits for an event before
	// it checks that the owner is alive; default 2 s. (An owner is taken for dead once its
	// heartbeat lapsed, which takes the heartbeat's TTL.)
	OwnerCheck time.Duration
	// PublishQueue bounds the events waiting to be appended to Redis (while it is slow or
	// down); default 65,536. Past it, events are not shared (they stay watchable here) and
	// a warning is logged.
	PublishQueue int
	// PublishInterval is the least time between two appends of this instance's events to
	// Redis: an event that comes sooner after the last append waits for the rest of it,
	// and goes with every other event that came meanwhile, of every call, in one round
	// trip. An event that comes later goes at once. Watchers on other instances see events
	// up to this much later while the instance is busy; those here are never delayed.
	// Default DefaultPublishInterval; negative for none.
	PublishInterval time.Duration
}

// DefaultPublishInterval is Shared.PublishInterval's default: at 800 calls per second it cut
// Redis's CPU per call by a fifth, for watchers on other instances seeing events ≈ 1.4 ms
// later at the median (docs/performance.md).
const DefaultPublishInterval = 2 * time.Millisecond

// Owners tells who owns a call and ends the calls of dead instances; *tracker.Redis is one.
type Owners interface {
	Alive(ctx context.Context, instance string) (bool, error)
	OwnerOf(ctx context.Context, id string) (instance string, alive bool, err error)
	EndIfOwnerDead(ctx context.Context, id string) (*telephony.Call, bool, error)
}

func (sh *Shared) withDefaults() (*Shared, error) {
	if sh == nil {
		return nil, nil
	}
	c := *sh
	if c.Instance == "" || c.Events == nil || c.Commands == nil || c.Owners == nil {
		return nil, errors.New("shared: instance, events, commands and owners are all needed")
	}
	if c.OwnerCheck <= 0 {
		c.OwnerCheck = 2 * time.Second
	}
	if c.PublishQueue <= 0 {
		c.PublishQueue = 1 << 16
	}
	if c.PublishInterval == 0 {
		c.PublishInterval = DefaultPublishInterval
	}
	return &c, nil
}

// Run shares this instance's calls with the other instances until ctx ends: it appends
// their events to Redis, follows the streams of the calls watched here, and takes the
// commands other instances send. Without Config.Shared it returns at once. Cancel ctx once
// the engine has ended every call: Run then appends what is left (for at most
// flushTimeout) and returns.
func (s *CallService) Run(ctx context.Context) error {
	sh := s.cfg.Shared
	if sh == nil {
		return nil
	}
	var wg sync.WaitGroup
	var evErr, cmdErr error
	wg.Go(func() { evErr = sh.Events.Run(ctx) })
	wg.Go(func() {
		cmdErr = sh.Commands.Run(ctx, sh.Instance, func(ctx context.Context, cmd tracker.Command) {
			if cmd.Op == tracker.CommandHangUp {
				s.hangUpLocal(cmd.CallID)
			}
		})
	})
	s.pub.run(ctx)
	wg.Wait()
	return errors.Join(evErr, cmdErr)
}

// hangUpLocal hangs up a call of this instance, if it is live here, and returns it.
func (s *CallService) hangUpLocal(id string) *sipengine.Call {
	s.mu.Lock()
	var call *sipengine.Call
	if o := s.live[id]; o != nil {
		call = o.call
	}
	s.mu.Unlock()
	if call != nil {
		call.Hangup()
	}
	return call
}

// hangUpRemote hangs up a call this instance does not have: through its owner's command
// channel, or, if the owner is dead, by ending it as LOST. It returns the call once it
// ended, or as it stands after Config.HangUpWait.
func (s *CallService) hangUpRemote(ctx context.Context, id string) (*telephony.Call, error) {
	sh := s.cfg.Shared
	rec, err := s.records.Get(ctx, id)
	if err != nil || rec.Termination.Ended() {
		return rec, err
	}
	owner, alive, err := sh.Owners.OwnerOf(ctx, id)
	if err != nil {
		return nil, err
	}
	if !alive {
		return s.endLost(ctx, id, stateUnknown)
	}
	if err := sh.Commands.SendHangUp(ctx, owner, id); err != nil {
		return nil, err
	}
	// The owner writes the call's end behind; poll the record as a watcher would see it.
	wait := time.NewTimer(s.cfg.HangUpWait)
	defer wait.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait.C:
			return s.records.Get(ctx, id)
		case <-tick.C:
		}
		if rec, err := s.records.Get(ctx, id); err == nil && rec.Termination.Ended() {
			return rec, nil
		}
	}
}

// stateUnknown stands for the state of a call before it was ended as LOST when nobody saw
// it.
const stateUnknown = telephony.State(0)

// endLost ends call id as KILL / LOST if its owner is dead (tracker.Owners.EndIfOwnerDead)
// and, if the call's stream has no end yet, appends one for its watchers: a state change
// from was to ENDED and the ended event, as the owner would have. It returns the call's
// record.
func (s *CallService) endLost(ctx context.Context, id string, was telephony.State) (*telephony.Call, error) {
	sh := s.cfg.Shared
	rec, _, err := sh.Owners.EndIfOwnerDead(ctx, id)
	if err != nil || rec.Termination.Cause != telephony.CauseLost {
		return rec, err
	}
	// Only a dead owner's calls end LOST, so nobody else appends to this stream but those
	// who found it dead, and they append the same end: a retry is skipped, a race is
	// refused as out of order.
	evs, err := sh.Events.Range(ctx, id, 0, 0)
	if err != nil {
		return rec, err
	}
	seq := uint64(len(evs))
	if seq > 0 && evs[seq-1].Last {
		return rec, nil
	}
	if was == stateUnknown {
		was = lastState(evs)
	}
	end := []logEvent{
		newLogEvent(sipengine.Event{Kind: sipengine.EventState, At: rec.EndedAt, From: was, To: telephony.StateEnded}, nil),
		newLogEvent(sipengine.Event{Kind: sipengine.EventEnded, At: rec.EndedAt}, rec),
	}
	out := make([]tracker.StreamEvent, len(end))
	for i := range end {
		if out[i].Payload, err = marshalEvent(&end[i], id, seq+uint64(i)+1); err != nil {
			return rec, err
		}
		out[i].Seq = seq + uint64(i) + 1
	}
	out[len(out)-1].Last = true
	if err := sh.Events.Append(ctx, id, sh.Instance, out...); err != nil && !errors.Is(err, tracker.ErrEventOrder) {
		return rec, fmt.Errorf("end of lost call %s not shared: %w", id, err)
	}
	s.log.InfoContext(ctx, "call of a dead instance ended as lost", "call_id", id, "events_before", seq)
	return rec, nil
}
