package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	telephonyv1 "github.com/ccplane/telephony/proto/telephony/v1"
	"github.com/ccplane/telephony/tracker"
)

// maxReportRange bounds a report's range: a quarter, enough for monthly figures and small
// enough that no request reads an unbounded number of buckets.
const maxReportRange = 93 * 24 * time.Hour

// ReportService implements telephony.v1.ReportService from the aggregates the record store
// keeps as calls end; it never loads individual records.
type ReportService struct {
	telephonyv1.UnimplementedReportServiceServer

	log      *slog.Logger
	store    reportBuckets
	gateways map[string]bool
	meanings tracker.Meanings
	now      func() time.Time
}

// NewReportService returns the report service over a store's hourly aggregates. meanings
// holds gateways' own explanations of codes, shown next to the standard ones.
func NewReportService(log *slog.Logger, gateways []string, store reportBuckets, meanings tracker.Meanings, now func() time.Time) *ReportService {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	s := &ReportService{log: log.With("component", "reports"), store: store, gateways: map[string]bool{}, meanings: meanings, now: now}
	for _, g := range gateways {
		s.gateways[g] = true
	}
	return s
}

// GetSipReport implements telephony.v1.ReportService.
func (s *ReportService) GetSipReport(ctx context.Context, r *telephonyv1.GetSipReportRequest) (*telephonyv1.GetSipReportResponse, error) {
	q, err := s.query(r)
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	buckets, err := s.store.Buckets(ctx, q.Gateway, q.From, q.To)
	if err != nil {
		return nil, toStatus(ctx, s.log, fmt.Errorf("%w: %w", errRecordsUnavailable, err))
	}
	rep := tracker.BuildReport(q, buckets, s.meanings)
	res := &telephonyv1.GetSipReportResponse{}
	for _, g := range rep.Gateways {
		gr := &telephonyv1.GatewayReport{Gateway: g.Gateway, Total: figuresToProto(g.Total)}
		for _, p := range g.Periods {
			gr.Periods = append(gr.Periods, &telephonyv1.PeriodReport{Start: timestamppb.New(p.Start), Figures: figuresToProto(p.Stats)})
		}
		res.Gateways = append(res.Gateways, gr)
	}
	return res, nil
}

func (s *ReportService) query(r *telephonyv1.GetSipReportRequest) (tracker.ReportQuery, error) {
	q := tracker.ReportQuery{Gateway: r.GetGateway(), To: s.now()}
	if q.Gateway != "" && !s.gateways[q.Gateway] {
		return q, fmt.Errorf("gateway %q: %w", q.Gateway, errUnknownGateway)
	}
	if r.GetFrom() == nil {
		return q, invalid("from", "is required")
	}
	if err := r.GetFrom().CheckValid(); err != nil {
		return q, invalid("from", "%v", err)
	}
	q.From = r.GetFrom().AsTime()
	if r.GetTo() != nil {
		if err := r.GetTo().CheckValid(); err != nil {
			return q, invalid("to", "%v", err)
		}
		q.To = r.GetTo().AsTime()
	}
	if !q.From.Before(q.To) {
		return q, invalid("to", "must be after from")
	}
	if q.To.Sub(q.From) > maxReportRange {
		return q, invalid("to", "the range may span at most %v", maxReportRange)
	}
	switch r.GetGranularity() {
	case telephonyv1.ReportGranularity_REPORT_GRANULARITY_UNSPECIFIED, telephonyv1.ReportGranularity_REPORT_GRANULARITY_HOUR:
		q.Granularity = tracker.Hourly
	case telephonyv1.ReportGranularity_REPORT_GRANULARITY_DAY:
		q.Granularity = tracker.Daily
	default:
		return q, invalid("granularity", "unknown granularity %d", r.GetGranularity())
	}
	return q, nil
}

func figuresToProto(st tracker.Stats) *telephonyv1.ReportFigures {
	f := &telephonyv1.ReportFigures{
		Calls: st.Calls, Attempts: st.Attempts, Answered: st.Answered,
		Asr: st.ASR, Ner: st.NER, Acd: durationpb.New(st.ACD),
		PddP50: durationpb.New(st.PDD50), PddP95: durationpb.New(st.PDD95), KillShare: st.KillShare,
	}
	for _, c := range st.Codes {
		f.Codes = append(f.Codes, &telephonyv1.CodeCount{
			Status: &telephonyv1.SipStatus{Code: int32(c.Code), Reason: c.Reason},
			Count:  c.Count, Meaning: c.Meaning, Practice: c.Practice, GatewayMeaning: c.GatewayMeaning,
		})
	}
	for _, p := range st.Parties {
		f.Parties = append(f.Parties, &telephonyv1.PartyCount{Party: telephonyv1.TerminationParty(p.Party), Count: p.Count})
	}
	for _, c := range st.Causes {
		f.Causes = append(f.Causes, &telephonyv1.CauseCount{Cause: telephonyv1.TerminationCause(c.Cause), Count: c.Count})
	}
	return f
}
