package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
	labels   []string // the label keys the store aggregates
	meanings tracker.Meanings
	now      func() time.Time
}

// ReportConfig configures the report service; zero values mean the defaults given.
type ReportConfig struct {
	Gateways []string         // the gateways reports may name
	Labels   []string         // label keys aggregated for reports (calls.report_labels)
	Meanings tracker.Meanings // gateways' own explanations of codes, shown next to the standard ones
	Logger   *slog.Logger     // nil discards
	Now      func() time.Time // default time.Now
}

// NewReportService returns the report service over a store's hourly aggregates.
func NewReportService(cfg ReportConfig, store reportBuckets) *ReportService {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &ReportService{log: cfg.Logger.With("component", "reports"), store: store, gateways: map[string]bool{},
		labels: cfg.Labels, meanings: cfg.Meanings, now: cfg.Now}
	for _, g := range cfg.Gateways {
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
	label, err := s.label(r.GetLabels())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	buckets, err := s.store.Buckets(ctx, q.Gateway, label, q.From, q.To)
	if err != nil {
		return nil, toStatus(ctx, s.log, recordsError(err))
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
	// Hourly, the zero value, also stands for UNSPECIFIED.
	if r.GetGranularity() == telephonyv1.ReportGranularity_REPORT_GRANULARITY_DAY {
		q.Granularity = tracker.Daily
	}
	return q, nil
}

// label returns the bucket label of a report's label filter: "" for none, "k=v" for one
// aggregated label (the proto rules allow at most one).
func (s *ReportService) label(labels map[string]string) (string, error) {
	for k, v := range labels {
		if !slices.Contains(s.labels, k) {
			return "", invalid("labels", "%q is not aggregated for reports (calls.report_labels: %v)", k, s.labels)
		}
		return k + "=" + v, nil
	}
	return "", nil
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
