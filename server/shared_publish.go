package server

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/ccplane/telephony/internal/wait"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

const (
	// publishBatch is how many events one append to Redis takes at most.
	publishBatch = 512
	// payloadSize is about the size of an encoded event, to size a batch's buffer: most are
	// 60–90 bytes, with SDP a few hundred, an ended call's about 300.
	payloadSize = 96
	// publishRetry bounds the wait between attempts while Redis fails.
	publishRetry = time.Second
	// flushTimeout bounds the last appends at shutdown.
	flushTimeout = 5 * time.Second
)

// published is one event of a call of this instance, waiting to be appended to Redis.
type published struct {
	callID string
	seq    uint64
	ev     logEvent
}

// publisher appends the events of this instance's calls to their streams in Redis, in
// order, batched: one goroutine (run) takes what the calls' observers queue. The queue grows
// only while Redis lags, up to its bound, so that an outage costs bounded memory; an event
// that finds it full is not shared (the call stays watchable here), and the later events of
// its call are refused by Redis as out of order, which is logged.
type publisher struct {
	events *tracker.EventStreams
	owner  string
	s      *CallService
	max    int
	every  time.Duration // Shared.PublishInterval

	msg eventMessage // byCall's, reused event after event

	mu      sync.Mutex
	pending []published
	// dropped counts the events that found the queue full; logged at powers of two, so an
	// outage is seen without a line per event.
	dropped int64
	wake    chan struct{} // capacity 1: run has something to take
}

func newPublisher(s *CallService, sh *Shared) *publisher {
	if sh == nil {
		return nil
	}
	return &publisher{events: sh.Events, owner: sh.Instance, s: s, max: sh.PublishQueue, every: sh.PublishInterval,
		wake: make(chan struct{}, 1)}
}

// enqueue queues an event appended to a call's log; it never blocks.
func (p *publisher) enqueue(callID string, seq uint64, ev logEvent) {
	if p == nil {
		return
	}
	p.mu.Lock()
	full := len(p.pending) >= p.max
	if full {
		p.dropped++
	} else {
		p.pending = append(p.pending, published{callID: callID, seq: seq, ev: ev})
	}
	dropped := p.dropped
	p.mu.Unlock()
	if full && dropped&(dropped-1) == 0 {
		p.s.log.Warn("call events not shared: too many waiting for Redis", "call_id", callID, "sequence", seq, "dropped", dropped)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run appends until ctx ends, then what is left and queued, for at most flushTimeout. It
// appends at most once per Shared.PublishInterval: at hundreds of calls per second that
// turns a round trip per event or two into one per interval, while a quiet instance's
// events go at once. An append under way is not cut short by ctx, whose end only stops the
// retries of one that failed: those go again with the flush.
func (p *publisher) run(ctx context.Context) {
	work := context.WithoutCancel(ctx)
	var left []tracker.CallEvents
	var last time.Time // when the last append began
	for ctx.Err() == nil {
		select {
		case <-p.wake:
			if wait.Sleep(ctx, p.every-time.Since(last)) == nil {
				last = time.Now()
				left = p.publish(work, ctx.Done())
			}
		case <-ctx.Done():
		}
	}
	flush, cancel := context.WithTimeout(work, flushTimeout)
	defer cancel()
	// The calls have ended: nothing more is queued once the queue is found empty.
	left = append(p.append(flush, nil, left), p.publish(flush, nil)...)
	for len(left) == 0 && flush.Err() == nil && p.queued() > 0 {
		left = p.publish(flush, nil)
	}
	if len(left) > 0 {
		p.s.log.Error("call events not shared: Redis did not take them before shutdown", "calls", len(left))
	}
}

// publish appends what is queued, publishBatch events at a time, or until stop: it then
// returns what it did not append. Events queued meanwhile are left for the next publish.
func (p *publisher) publish(ctx context.Context, stop <-chan struct{}) []tracker.CallEvents {
	p.mu.Lock()
	queued := p.pending
	p.pending = nil
	p.mu.Unlock()
	batches := slices.Collect(slices.Chunk(queued, publishBatch))
	for i, batch := range batches {
		if left := p.append(ctx, stop, p.byCall(batch)); left != nil {
			for _, rest := range batches[i+1:] {
				left = append(left, p.byCall(rest)...)
			}
			return left
		}
	}
	return nil
}

// queued is how many events wait in the queue.
func (p *publisher) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// byCall groups a batch's events by call, in order, with their payloads. It runs on run's
// goroutine only: every event is built in the same message, and encoded into one buffer per
// batch that the payloads share (an append may keep them past the batch, to retry).
func (p *publisher) byCall(batch []published) []tracker.CallEvents {
	var calls []tracker.CallEvents
	index := make(map[string]int)
	buf := make([]byte, 0, len(batch)*payloadSize)
	for _, e := range batch {
		out, err := proto.MarshalOptions{}.MarshalAppend(buf, p.msg.build(&e.ev, e.callID, e.seq))
		if err != nil {
			p.s.log.Error("call event not shared", "call_id", e.callID, "sequence", e.seq, "err", err)
			continue
		}
		// A later append must not write into this payload: its capacity ends with it.
		payload := out[len(buf):len(out):len(out)]
		buf = out
		i, ok := index[e.callID]
		if !ok {
			i = len(calls)
			index[e.callID] = i
			calls = append(calls, tracker.CallEvents{CallID: e.callID, Owner: p.owner})
		}
		last := e.ev.kind == int8(sipengine.EventEnded)
		calls[i].Events = append(calls[i].Events, tracker.StreamEvent{Seq: e.seq, Payload: payload, Last: last})
	}
	return calls
}

// append appends calls' events, again while Redis fails (an append is idempotent), and
// returns those it has not appended when ctx ends or stop is closed; nil once all are in (or
// refused as out of order, which is logged).
func (p *publisher) append(ctx context.Context, stop <-chan struct{}, calls []tracker.CallEvents) []tracker.CallEvents {
	wait := 50 * time.Millisecond
	for len(calls) > 0 {
		errs := p.events.AppendMany(ctx, calls)
		var retry []tracker.CallEvents
		for i, err := range errs {
			switch {
			case err == nil:
			case errors.Is(err, tracker.ErrEventOrder):
				p.s.log.Error("call events not shared", "call_id", calls[i].CallID, "err", err)
			default:
				retry = append(retry, calls[i])
			}
		}
		if len(retry) > 0 {
			p.s.log.Warn("call events not shared yet: Redis failed", "calls", len(retry), "err", errors.Join(errs...))
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return retry
			case <-stop:
				t.Stop()
				return retry
			case <-t.C:
			}
		}
		calls, wait = retry, min(2*wait, publishRetry)
	}
	return nil
}

// marshalEvent is the payload of event seq of call id in its Redis stream.
func marshalEvent(e *logEvent, id string, seq uint64) ([]byte, error) {
	return proto.Marshal(e.toProto(id, seq))
}
