package tracker

import (
	"cmp"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisConfig configures a Redis store. The zero value of every field is its default.
type RedisConfig struct {
	// Retention is how long a record is kept after its last write (the TTL of its key), how
	// long a call stays in the listing indexes (trimmed by creation time), and how long an
	// hourly aggregate is kept after its last increment. Default 30 days.
	Retention time.Duration
	// ListScan bounds the index entries one List reads, so that a filter matching few calls
	// cannot make one request read a month of calls: past it, List returns the page it has
	// (perhaps empty) with a cursor to go on from. Default 10,000.
	ListScan int
	// Logger receives index writes that failed (Warn) and the calls of dead instances ended
	// (Warn, Info per call). Default: discard.
	Logger *slog.Logger
	// Now is the clock that retention trims by, and the end time of calls RecoverLost ends.
	// Default time.Now.
	Now func() time.Time
	// Instance is this process's instance id, fresh for each process start (a UUID): the
	// calls it creates are its own until they end, and are ended as lost by another
	// instance if it dies first (see RunOwnership). With it, RunOwnership must run for as
	// long as the process has calls. Default "": calls are owned by no one.
	Instance string
	// ReportLabels are the label keys whose values get report buckets of their own (see
	// Store.Buckets): "campaign", "agent_id", never a key with a value per call. Keys are
	// label keys as the server accepts them (letters, digits, '_', '-', '.', at most 63
	// bytes); a key given twice counts once. Every instance sharing the Redis should have
	// the same list: a call is counted into the label buckets of the instance that counts
	// it. Default none.
	ReportLabels []string
}

// Validate reports a negative Retention or ListScan, or an invalid ReportLabels key.
func (c RedisConfig) Validate() error {
	if c.Retention < 0 {
		return fmt.Errorf("tracker: retention %v is negative", c.Retention)
	}
	if c.ListScan < 0 {
		return fmt.Errorf("tracker: list scan %d is negative", c.ListScan)
	}
	_, err := reportLabelKeys(c.ReportLabels)
	return err
}

const defaultListScan = 10_000

// claimWait is how long a Create whose request id is claimed by a call without a record
// waits for that record before taking the claim over. The claimant writes its record right
// after claiming, so a record still missing after this means its Create failed half-way.
const claimWait = time.Second

// Redis is a Store in Redis (standalone, Sentinel or Cluster), shared by every instance
// and surviving restarts as far as Redis persists. See the package doc for the keys. It is
// safe for concurrent use.
type Redis struct {
	c         redis.UniversalClient
	log       *slog.Logger
	now       func() time.Time
	retention time.Duration
	ttl       string // retention in milliseconds, the scripts' argument
	scan      int
	claimWait time.Duration // claimWait; tests shorten it
	owner     *ownership
	labels    []string // report label keys
	oneNode   bool     // a Create may own its calls in the round trip that writes them (onOneNode)

	create, update, count, takeover *redis.Script
}

// NewRedis returns a Store on c. The caller keeps ownership of c.
func NewRedis(cfg RedisConfig, c redis.UniversalClient) (*Redis, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Redis{
		c:         c,
		log:       cfg.Logger,
		now:       cfg.Now,
		retention: cmp.Or(cfg.Retention, DefaultRetention),
		scan:      cmp.Or(cfg.ListScan, defaultListScan),
		claimWait: claimWait,
		create:    redis.NewScript(createScript),
		update:    redis.NewScript(updateScript),
		count:     redis.NewScript(countScript),
		takeover:  redis.NewScript(takeoverScript),
		owner:     newOwnership(cfg.Instance),
	}
	r.oneNode = onOneNode(c)
	r.labels, _ = reportLabelKeys(cfg.ReportLabels) // validated above
	r.ttl = strconv.FormatInt(r.retention.Milliseconds(), 10)
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.log = r.log.With("component", "tracker")
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// onOneNode reports whether c talks to one server (standalone, or Sentinel's master) rather
// than a Cluster: that server then runs a pipeline in order, and a script may touch keys of
// any slot.
func onOneNode(c redis.UniversalClient) bool {
	_, cluster := c.(*redis.ClusterClient)
	return !cluster
}
