package tracker

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ccplane/telephony"
)

func TestMemory(t *testing.T) {
	testStore(t, func(*testing.T) Store { return NewMemory().WithReportLabels(suiteReportLabels...) })
}

func TestReportLabelKeys(t *testing.T) {
	for _, k := range []string{"", "a=b", "a:b", "ağ", strings.Repeat("k", 64)} {
		if err := (RedisConfig{ReportLabels: []string{"campaign", k}}).Validate(); err == nil {
			t.Errorf("report label key %q accepted", k)
		}
	}
	if err := (RedisConfig{ReportLabels: []string{"agent_id", "a-b.C9", strings.Repeat("k", 63)}}).Validate(); err != nil {
		t.Error(err)
	}
	// A key given twice counts a call once.
	m := NewMemory().WithReportLabels("campaign", "campaign")
	c := ended(&telephony.Call{ID: "a", Gateway: "gw", CreatedAt: suiteT0, Labels: map[string]string{"campaign": "x"}},
		486, telephony.CauseRemoteRejected, suiteT0)
	if _, _, err := m.Create(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	got, err := m.Buckets(t.Context(), "gw", "campaign=x", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(expectLabelBuckets([]*telephony.Call{c}, "campaign=x"), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
