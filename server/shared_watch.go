package server

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/tracker"
)

// watchRemote streams the events of a call this instance does not have, from its stream in
// Redis: history after after, then live, with the owner's numbering. While no event comes
// it checks, every Shared.OwnerCheck, that the owner is alive, and ends the call as LOST if
// not.
func (s *CallService) watchRemote(ctx context.Context, id string, after uint64, stream grpc.ServerStreamingServer[telephonyv1.CallEvent]) error {
	sh := s.cfg.Shared
	w, err := s.openRemote(ctx, id, after)
	if err != nil {
		return err
	}
	defer w.Close()
	was, owner, got := stateUnknown, "", false
	for {
		wait, cancel := context.WithTimeout(ctx, sh.OwnerCheck)
		sev, err := w.Next(wait)
		cancel()
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded):
			if !got {
				if rec, err := s.records.Get(ctx, id); err == nil && s.unshared(rec) {
					return fmt.Errorf("events of call %s: %w (never shared)", id, tracker.ErrNotFound)
				}
			}
			if owner, err = s.checkOwner(ctx, id, owner, was); err != nil {
				s.log.WarnContext(ctx, "owner of a watched call not checked", "call_id", id, "err", err)
			}
			continue
		case errors.Is(err, tracker.ErrSequenceAhead):
			return fmt.Errorf("%w: %w", errSequenceAhead, err)
		case errors.Is(err, tracker.ErrNotFound):
			return fmt.Errorf("events of call %s: %w (history expired)", id, tracker.ErrNotFound)
		case err != nil:
			// The client resumes from the last sequence it got, here or elsewhere.
			return recordsError(err)
		}
		got = true
		ev := new(telephonyv1.CallEvent)
		if err := proto.Unmarshal(sev.Payload, ev); err != nil {
			return fmt.Errorf("event %d of call %s: %w", sev.Seq, id, err)
		}
		if sc := ev.GetStateChanged(); sc != nil {
			was = telephony.State(sc.GetTo())
		}
		if err := stream.Send(ev); err != nil {
			return err
		}
	}
}

// checkOwner ends call id as LOST if its owner is dead (see endLost); owner is the owner
// if known, else it is looked up, and returned for the next check. A call that no instance
// owns has ended: endLost makes sure its stream has its end if it was LOST.
func (s *CallService) checkOwner(ctx context.Context, id, owner string, was telephony.State) (string, error) {
	if owner == "" {
		// The owner its stream names is one read; without a stream yet, its live set says.
		var err error
		owner, err = s.cfg.Shared.Events.Owner(ctx, id)
		if errors.Is(err, tracker.ErrNotFound) {
			owner, _, err = s.cfg.Shared.Owners.OwnerOf(ctx, id)
		}
		if err != nil {
			return "", err
		}
	}
	if owner != "" {
		if alive, err := s.owners.alive(ctx, owner); alive || err != nil {
			return owner, err
		}
	}
	_, err := s.endLost(ctx, id, was)
	return owner, err
}

// openRemote starts the watch of a call's stream. A call whose record exists but whose
// stream does not is either just placed (its owner has not appended yet: its events will
// come, or watchRemote finds the owner dead), or ended long enough ago for its history to
// have expired.
func (s *CallService) openRemote(ctx context.Context, id string, after uint64) (*tracker.StreamWatch, error) {
	sh := s.cfg.Shared
	w, err := sh.Events.Watch(ctx, id, after)
	if errors.Is(err, tracker.ErrNotFound) {
		rec, rerr := s.records.Get(ctx, id)
		switch {
		case rerr != nil:
			return nil, recordsError(rerr)
		case s.unshared(rec):
			return nil, fmt.Errorf("events of call %s: %w (history expired)", id, tracker.ErrNotFound)
		}
		w, err = sh.Events.WatchLive(ctx, id, after)
	}
	switch {
	case errors.Is(err, tracker.ErrSequenceAhead):
		return nil, fmt.Errorf("%w: %w", errSequenceAhead, err)
	case err != nil:
		return nil, recordsError(err)
	}
	return w, nil
}

// unshared reports whether an ended call's events will not come any more: it ended longer
// ago than an owner takes to append its last events (their stream expired, or its owner died
// before appending them).
func (s *CallService) unshared(rec *telephony.Call) bool {
	return rec.Termination.Ended() && s.cfg.Now().Sub(rec.EndedAt) > s.cfg.Shared.OwnerCheck
}

// lastState is the state the last state change among evs went to; stateUnknown if none.
func lastState(evs []tracker.StreamEvent) telephony.State {
	for i := len(evs) - 1; i >= 0; i-- {
		ev := new(telephonyv1.CallEvent)
		if proto.Unmarshal(evs[i].Payload, ev) != nil {
			continue
		}
		if sc := ev.GetStateChanged(); sc != nil {
			return telephony.State(sc.GetTo())
		}
	}
	return stateUnknown
}
