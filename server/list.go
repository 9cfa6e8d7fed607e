package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/ccplane/telephony"
	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/tracker"
)

// ListCalls implements telephony.v1.CallService.
func (s *CallService) ListCalls(ctx context.Context, r *telephonyv1.ListCallsRequest) (*telephonyv1.ListCallsResponse, error) {
	f, err := listFilter(r)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	if scope := callScope(ctx); scope != nil {
		// An agent lists only its own calls, whatever the request asks; the request's
		// labels still apply on top, so a contradicting one lists nothing.
		labels := maps.Clone(f.Labels)
		if labels == nil {
			labels = make(map[string]string, len(scope))
		}
		for k, v := range scope {
			if got, ok := labels[k]; ok && got != v {
				return &telephonyv1.ListCallsResponse{}, nil
			}
			labels[k] = v
		}
		f.Labels = labels
	}
	calls, next, err := s.records.List(ctx, f)
	if err != nil {
		return nil, toStatus(ctx, s.log, recordsError(err))
	}
	resp := &telephonyv1.ListCallsResponse{NextPageToken: encodeCursor(next)}
	for _, c := range calls {
		resp.Calls = append(resp.Calls, callToProto(c))
	}
	return resp, nil
}

// listFilter turns a request into the store's filter; the proto rules bound page_size and
// last_code and refuse unknown enum values.
func listFilter(r *telephonyv1.ListCallsRequest) (tracker.Filter, error) {
	f := tracker.Filter{
		Gateway: r.GetGateway(), Labels: r.GetLabels(), Limit: int(r.GetPageSize()),
		State: telephony.State(r.GetState()), Party: telephony.Party(r.GetParty()), Cause: telephony.Cause(r.GetCause()),
	}
	if t := r.GetCreatedAfter(); t != nil {
		if err := t.CheckValid(); err != nil {
			return f, invalid("created_after", "%v", err)
		}
		f.CreatedAfter = t.AsTime()
	}
	if t := r.GetCreatedBefore(); t != nil {
		if err := t.CheckValid(); err != nil {
			return f, invalid("created_before", "%v", err)
		}
		f.CreatedBefore = t.AsTime()
	}
	if r.LastCode != nil {
		code := int(r.GetLastCode())
		f.LastCode = &code
	}
	var err error
	if f.After, err = decodeCursor(r.GetPageToken()); err != nil {
		return f, err
	}
	return f, nil
}

// Page tokens are opaque to clients: base64 of "<created unix nanos>:<call id>".
func encodeCursor(c tracker.Cursor) string {
	if c.IsZero() {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%s", c.CreatedAt.UnixNano(), c.ID))
}

func decodeCursor(tok string) (tracker.Cursor, error) {
	if tok == "" {
		return tracker.Cursor{}, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return tracker.Cursor{}, invalid("page_token", "not a token from this service")
	}
	nanos, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(nanos, 10, 64)
	if !ok || err != nil || id == "" {
		return tracker.Cursor{}, invalid("page_token", "not a token from this service")
	}
	return tracker.Cursor{CreatedAt: time.Unix(0, n), ID: id}, nil
}
