package server

import (
	"context"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/sipengine"
	"github.com/ccplane/telephony/tracker"
)

// dialer places calls; *sipengine.Engine implements it.
type dialer interface {
	Dial(ctx context.Context, req sipengine.DialRequest) (*sipengine.Call, error)
}

// records keeps call records; *tracker.Memory implements it.
type records interface {
	Create(ctx context.Context, c *telephony.Call) (*telephony.Call, bool, error)
	Update(ctx context.Context, c *telephony.Call) error
	Get(ctx context.Context, id string) (*telephony.Call, error)
	List(ctx context.Context, f tracker.Filter) ([]*telephony.Call, tracker.Cursor, error)
}

var (
	_ dialer  = (*sipengine.Engine)(nil)
	_ records = (*tracker.Memory)(nil)
)
