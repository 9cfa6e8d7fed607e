package server

import (
	"context"
	"time"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/directions"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

// dialer places calls; *sipengine.Engine implements it.
type dialer interface {
	Dial(ctx context.Context, req sipengine.DialRequest) (*sipengine.Call, error)
}

// records keeps call records; the tracker stores (memory, Redis, buffered) implement it.
type records interface {
	Create(ctx context.Context, c *telephony.Call) (*telephony.Call, bool, error)
	Update(ctx context.Context, c *telephony.Call) error
	Get(ctx context.Context, id string) (*telephony.Call, error)
	List(ctx context.Context, f tracker.Filter) ([]*telephony.Call, tracker.Cursor, error)
}

// reportBuckets reads the hourly aggregates the record store keeps as calls end; tracker
// stores implement it.
type reportBuckets interface {
	Buckets(ctx context.Context, gateway, label string, from, to time.Time) ([]tracker.Bucket, error)
}

// directionRules is the directions store DirectionService edits; directions.Store
// implementations satisfy it.
type directionRules interface {
	Rules(ctx context.Context, gateway string) ([]directions.Rule, uint64, error)
	Replace(ctx context.Context, gateway string, rules []directions.Rule) (uint64, error)
	Add(ctx context.Context, gateway string, rules []directions.Rule) (uint64, error)
	Remove(ctx context.Context, gateway string, prefixes []string) (uint64, error)
}

// directionCheck decides numbers from the in-process rules; *directions.Cache implements it.
type directionCheck interface {
	Check(gateway, number string) (string, directions.Decision, error)
	Refresh(ctx context.Context, gateway string) error
}

var (
	_ dialer         = (*sipengine.Engine)(nil)
	_ records        = tracker.Store(nil)
	_ directionRules = (*directions.Memory)(nil)
	_ directionRules = (*directions.Redis)(nil)
	_ directionCheck = (*directions.Cache)(nil)
)
