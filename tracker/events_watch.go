package tracker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony/internal/resubscribe"
)

const (
	// watchInbox is how many live events a watch holds until Next takes them. Past it they
	// are dropped and Next reads them from the stream: a watcher that far behind loses
	// nothing but the shortcut, and a stalled one holds no more memory than this.
	watchInbox = 64
	// readBatch is how many events a watch reads from the stream at once.
	readBatch = 256
	// pingInterval is how long a silent subscription waits before it pings Redis, so that
	// a connection that died without a word is noticed within two.
	pingInterval = 15 * time.Second
)

// Run holds this instance's subscription to the events of the calls it watches, and hands
// what arrives to their watches, until ctx ends; it then returns nil. When the
// subscription fails it subscribes again, with backoff; meanwhile watches read their
// streams every EventsConfig.Resync. It returns an error at once if it is already running.
func (s *EventStreams) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("tracker: event streams already running")
	}
	defer s.running.Store(false)
	resubscribe.Hold(ctx, func(up func()) error { return s.listen(ctx, up) }, func(err error, first bool) {
		if first {
			s.log.WarnContext(ctx, "event subscription lost: watches read their streams every resync interval until it is back", "err", err)
		}
	}, func() { s.log.InfoContext(ctx, "event subscription restored") })
	return nil
}

// listen opens a subscription to the channels of every watched call, calls up once it
// works, and dispatches its messages until it fails or ctx ends.
func (s *EventStreams) listen(ctx context.Context, up func()) error {
	ps := s.c.Subscribe(ctx)
	// go-redis reads ignore ctx cancellation; closing the PubSub is what ends a Receive.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer func() {
		stop()
		s.subMu.Lock()
		s.ps = nil
		s.subMu.Unlock()
		_ = ps.Close()
	}()
	// Connected before it is shared, so that watches coming and going never wait for a
	// dial; and a subscription with no channel yet fails now if Redis is down.
	if err := ps.Ping(ctx); err != nil {
		return err
	}
	s.subMu.Lock()
	s.ps = ps
	s.mu.Lock()
	channels := make([]string, 0, len(s.watches))
	for id := range s.watches {
		channels = append(channels, eventsChannel(id))
	}
	s.mu.Unlock()
	var err error
	if len(channels) > 0 {
		err = ps.Subscribe(ctx, channels...)
	}
	s.subMu.Unlock()
	if err != nil {
		return err
	}
	first, pinged := true, false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingInterval)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() && !pinged {
				// The reply arrives as a message; a second silence means the connection is gone.
				pinged = true
				if err = ps.Ping(ctx); err == nil {
					continue
				}
			}
			return err
		}
		pinged = false
		if first {
			first = false
			up()
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			// Events published before the channel's subscription took effect were missed,
			// also by a resubscription after go-redis reconnected by itself.
			if id, ok := callOfChannel(m.Channel); ok && m.Kind == "subscribe" {
				s.deliver(id, nil)
			}
		case *redis.Message:
			if id, ok := callOfChannel(m.Channel); ok {
				ev, ok := decodeMessage(m.Payload)
				if !ok {
					s.log.WarnContext(ctx, "unreadable event notification: its watches read the stream", "call_id", id)
					s.deliver(id, nil)
					continue
				}
				s.deliver(id, &ev)
			}
		}
	}
}

// deliver hands ev to the watches of call id; nil tells them to read the stream.
func (s *EventStreams) deliver(id string, ev *StreamEvent) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watches[id] {
		w.push(ev)
	}
}

// Watch returns a watch of the events of call id after sequence after (0 for all): those
// in the stream, then live ones as they are appended, in order, each once. Live events
// arrive through Run's subscription, so without Run they arrive only every
// EventsConfig.Resync. It returns ErrNotFound for a call without events (not appended yet,
// or expired), and ErrSequenceAhead when after is beyond the last event of an ended call.
// The watch must be closed.
func (s *EventStreams) Watch(ctx context.Context, id string, after uint64) (*StreamWatch, error) {
	return s.watch(ctx, id, after, false)
}

// WatchLive is Watch for a call known to be live, whose owner may not have appended its
// first events yet: until the stream has an event, a missing stream is an empty one, not
// ErrNotFound.
func (s *EventStreams) WatchLive(ctx context.Context, id string, after uint64) (*StreamWatch, error) {
	return s.watch(ctx, id, after, true)
}

func (s *EventStreams) watch(ctx context.Context, id string, after uint64, early bool) (*StreamWatch, error) {
	w := &StreamWatch{s: s, callID: id, cursor: after, early: early, wake: make(chan struct{}, 1)}
	s.subscribe(ctx, w)
	// Subscribed first: an event appended from now on is notified, or in what is read now.
	err := w.read(ctx)
	if err == nil && w.err != nil && !errors.Is(w.err, io.EOF) {
		err = w.err
	}
	if err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// subscribe registers w, subscribing its call's channel for the call's first watch.
func (s *EventStreams) subscribe(ctx context.Context, w *StreamWatch) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.mu.Lock()
	ws := s.watches[w.callID]
	if ws == nil {
		ws = make(map[*StreamWatch]struct{})
		s.watches[w.callID] = ws
	}
	ws[w] = struct{}{}
	first := len(ws) == 1
	s.mu.Unlock()
	if first && s.ps != nil {
		// A failed SUBSCRIBE does not fail the watch: go-redis keeps the channel and sends it
		// again when it reconnects, Run subscribes every watched channel again when its
		// subscription fails, and meanwhile the watch reads its stream every Resync.
		_ = s.ps.Subscribe(ctx, eventsChannel(w.callID))
	}
}

// unsubscribe forgets w, unsubscribing its call's channel after the call's last watch.
func (s *EventStreams) unsubscribe(w *StreamWatch) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.mu.Lock()
	ws := s.watches[w.callID]
	_, watching := ws[w]
	delete(ws, w)
	last := watching && len(ws) == 0
	if last {
		delete(s.watches, w.callID)
	}
	s.mu.Unlock()
	if last && s.ps != nil {
		// Failing, it is left out of the next subscription; until then its messages find no
		// watch.
		_ = s.ps.Unsubscribe(context.Background(), eventsChannel(w.callID))
	}
}

// StreamWatch follows one call's events for one watcher: see EventStreams.Watch. Next and
// Close must be called from one goroutine at a time.
type StreamWatch struct {
	s      *EventStreams
	callID string

	// Next's own state.
	cursor uint64        // the sequence of the last event delivered, or Watch's after
	ahead  []StreamEvent // events after cursor known so far, by sequence, no duplicate
	more   bool          // the last read filled its batch: the stream may hold more
	poll   bool          // read the stream before waiting
	err    error         // what ends the watch: io.EOF, ErrSequenceAhead or ErrNotFound
	early  bool          // no event read yet from a stream that may not exist yet (WatchLive)
	timer  *time.Timer   // Resync, while Next waits

	wake   chan struct{} // capacity 1: one pending wake-up stands for any number
	mu     sync.Mutex
	inbox  []StreamEvent // live events Next has not taken yet; guarded by mu
	missed bool          // a live event may be missing from inbox; guarded by mu
}

// push adds a live event to the inbox (nil: one was missed) and wakes Next.
func (w *StreamWatch) push(ev *StreamEvent) {
	w.mu.Lock()
	if ev != nil && len(w.inbox) < watchInbox {
		w.inbox = append(w.inbox, *ev)
	} else {
		w.missed = true
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Next returns the call's next event, waiting for it if needed. It returns io.EOF after
// the last event, ErrSequenceAhead if the call ended before the watch's start, ErrNotFound
// if the stream expired, and ctx.Err() when ctx ends. An error of Redis is returned as is:
// calling Next again carries on where it failed.
func (w *StreamWatch) Next(ctx context.Context) (StreamEvent, error) {
	for {
		if w.err != nil {
			return StreamEvent{}, w.err
		}
		w.mu.Lock()
		live, missed := w.inbox, w.missed
		w.inbox, w.missed = nil, false
		w.mu.Unlock()
		w.poll = w.poll || missed
		w.add(live)
		if w.err != nil {
			continue
		}
		if w.poll || w.behind() {
			if err := w.read(ctx); err != nil {
				return StreamEvent{}, err
			}
		}
		if len(w.ahead) > 0 && w.ahead[0].Seq == w.cursor+1 {
			ev := w.ahead[0]
			w.ahead = w.ahead[1:]
			w.cursor = ev.Seq
			if ev.Last {
				w.err = io.EOF
			}
			return ev, nil
		}
		if w.err != nil {
			continue
		}
		if err := w.wait(ctx); err != nil {
			return StreamEvent{}, err
		}
	}
}

// behind reports whether the stream holds events the watch has not: a gap before the
// events it has, or more after a full batch.
func (w *StreamWatch) behind() bool {
	if len(w.ahead) == 0 {
		return w.more
	}
	return w.ahead[0].Seq != w.cursor+1
}

// read reads the stream after the cursor.
func (w *StreamWatch) read(ctx context.Context) error {
	evs, last, err := w.s.read(ctx, w.callID, w.cursor, readBatch)
	if err != nil {
		return err
	}
	w.poll = false
	if last == nil {
		if !w.early {
			w.err = fmt.Errorf("tracker: events of call %s: %w", w.callID, ErrNotFound)
		}
		return nil
	}
	w.early = false
	w.more = len(evs) == readBatch
	w.add(append(evs, *last))
	return nil
}

// add adds events to those ahead, or ends the watch on a last event at or before the
// cursor.
func (w *StreamWatch) add(evs []StreamEvent) {
	for _, ev := range evs {
		switch {
		case ev.Seq > w.cursor:
			w.ahead = append(w.ahead, ev)
		case ev.Last && ev.Seq == w.cursor:
			w.err = io.EOF // the watch started after the last event
		case ev.Last:
			w.err = fmt.Errorf("%w: call %s, after sequence %d, last event %d", ErrSequenceAhead, w.callID, w.cursor, ev.Seq)
		}
	}
	slices.SortFunc(w.ahead, func(a, b StreamEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	w.ahead = slices.CompactFunc(w.ahead, func(a, b StreamEvent) bool { return a.Seq == b.Seq })
}

// wait waits for a live event, for Resync to pass, or for ctx to end.
func (w *StreamWatch) wait(ctx context.Context) error {
	if w.timer == nil {
		w.timer = time.NewTimer(w.s.resync)
	} else {
		w.timer.Reset(w.s.resync)
	}
	select {
	case <-w.wake:
		return nil
	case <-w.timer.C:
		w.poll = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close ends the watch. It may be called more than once.
func (w *StreamWatch) Close() {
	w.s.unsubscribe(w)
	if w.timer != nil {
		w.timer.Stop()
	}
}
