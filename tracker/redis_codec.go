package tracker

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/ccplane/telephony"
)

// storedCall is the encoding of a record in Redis: ours rather than telephony.Call's, so that
// renaming a Go field does not make the records of the last month unreadable. Times are
// Unix nanoseconds, 0 for unset. V is the format, for a future change to read the old one.
type storedCall struct {
	V            int               `json:"v"`
	ID           string            `json:"id"`
	RequestID    string            `json:"request_id,omitempty"`
	Gateway      string            `json:"gateway,omitempty"`
	From         string            `json:"from,omitempty"`
	To           string            `json:"to,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	SIPCallID    string            `json:"sip_call_id,omitempty"`
	State        telephony.State   `json:"state,omitempty"`
	Code         int               `json:"code,omitempty"`
	Phrase       string            `json:"phrase,omitempty"`
	Party        telephony.Party   `json:"party,omitempty"`
	Cause        telephony.Cause   `json:"cause,omitempty"`
	Reason       *storedReason     `json:"reason,omitempty"`
	SDPAnswer    string            `json:"sdp_answer,omitempty"`
	CreatedAt    int64             `json:"created_at,omitempty"`
	InviteSentAt int64             `json:"invite_sent_at,omitempty"`
	ProgressAt   int64             `json:"progress_at,omitempty"`
	AnsweredAt   int64             `json:"answered_at,omitempty"`
	EndedAt      int64             `json:"ended_at,omitempty"`
}

type storedReason struct {
	Protocol string `json:"protocol,omitempty"`
	Cause    int    `json:"cause,omitempty"`
	Text     string `json:"text,omitempty"`
}

const storedVersion = 1

func encodeCall(c *telephony.Call) ([]byte, error) {
	var reason *storedReason
	if r := c.Termination.Reason; r != nil {
		reason = &storedReason{Protocol: r.Protocol, Cause: r.Cause, Text: r.Text}
	}
	b, err := json.Marshal(storedCall{
		V: storedVersion, ID: c.ID, RequestID: c.RequestID, Gateway: c.Gateway, From: c.From, To: c.To,
		Labels: c.Labels, SIPCallID: c.SIPCallID, State: c.State,
		Code: c.LastResponse.Code, Phrase: c.LastResponse.Reason,
		Party: c.Termination.Party, Cause: c.Termination.Cause, Reason: reason,
		SDPAnswer: c.SDPAnswer, CreatedAt: unixNanos(c.CreatedAt), InviteSentAt: unixNanos(c.InviteSentAt),
		ProgressAt: unixNanos(c.ProgressAt), AnsweredAt: unixNanos(c.AnsweredAt), EndedAt: unixNanos(c.EndedAt),
	})
	if err != nil {
		return nil, fmt.Errorf("tracker: encode call %s: %w", c.ID, err)
	}
	return b, nil
}

func decodeCall(data string) (*telephony.Call, error) {
	var s storedCall
	if err := json.Unmarshal([]byte(data), &s); err != nil {
		return nil, fmt.Errorf("tracker: decode call record: %w", err)
	}
	if s.V != storedVersion {
		return nil, fmt.Errorf("tracker: call %s: record format %d, want %d", s.ID, s.V, storedVersion)
	}
	var reason *telephony.Reason
	if r := s.Reason; r != nil {
		reason = &telephony.Reason{Protocol: r.Protocol, Cause: r.Cause, Text: r.Text}
	}
	return &telephony.Call{
		ID: s.ID, RequestID: s.RequestID, Gateway: s.Gateway, From: s.From, To: s.To,
		Labels: s.Labels, SIPCallID: s.SIPCallID, State: s.State,
		LastResponse: telephony.Status{Code: s.Code, Reason: s.Phrase},
		Termination:  telephony.Termination{Party: s.Party, Cause: s.Cause, Reason: reason},
		SDPAnswer:    s.SDPAnswer, CreatedAt: fromNanos(s.CreatedAt), InviteSentAt: fromNanos(s.InviteSentAt),
		ProgressAt: fromNanos(s.ProgressAt), AnsweredAt: fromNanos(s.AnsweredAt), EndedAt: fromNanos(s.EndedAt),
	}, nil
}

// unixNanos and fromNanos keep the zero time zero (it has no Unix nanoseconds).
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
