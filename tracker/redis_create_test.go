package tracker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/ccplane/telephony"
	"github.com/ccplane/telephony/internal/testenv"
)

// tripHook counts the round trips of the client it is added to (a command sent alone or a
// pipeline, split or not over a Cluster's nodes), and runs before, if set, ahead of each:
// an error from before fails the round trip's commands as a broken connection would.
type tripHook struct {
	trips  atomic.Int64
	before atomic.Pointer[func(cmds []redis.Cmder) error]
}

func (h *tripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *tripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return h.trip(ctx, []redis.Cmder{cmd}, func(ctx context.Context, _ []redis.Cmder) error { return next(ctx, cmd) })
	}
}

func (h *tripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { return h.trip(ctx, cmds, next) }
}

func (h *tripHook) trip(ctx context.Context, cmds []redis.Cmder, next redis.ProcessPipelineHook) error {
	h.trips.Add(1)
	if f := h.before.Load(); f != nil {
		if err := (*f)(cmds); err != nil {
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
	}
	return next(ctx, cmds)
}

// createEnv is a Buffered over a Redis store of instance i-1, on a client whose round trips
// a tripHook counts.
type createEnv struct {
	c       redis.UniversalClient
	hook    *tripHook
	r       *Redis
	b       *Buffered
	creates sync.WaitGroup // the Creates started by create, waited for when the test ends
}

func newCreateEnv(t *testing.T, c redis.UniversalClient) *createEnv {
	t.Helper()
	e := &createEnv{c: c, hook: &tripHook{}}
	t.Cleanup(e.creates.Wait) // last: after t.Context ends and every hold is let go
	c.AddHook(e.hook)
	e.r = newRedis(t, RedisConfig{Now: suiteClock, Instance: "i-1"}, c)
	e.b = newBuffered(t, BufferConfig{}, e.r)
	// The first Create registers the instance and loads the script: from here on, Creates
	// make only their own round trips.
	mustCreate(t, e.b, dialing("warm-up", 0))
	return e
}

// hold holds the first round trip from now on that touches call id (a key or argument
// holds it), and returns a channel closed once it is held and a func that lets it go.
func (e *createEnv) hold(id string) (held <-chan struct{}, release func()) {
	h, r := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f := func(cmds []redis.Cmder) error {
		if touches(cmds, id) {
			once.Do(func() {
				close(h)
				<-r
			})
		}
		return nil
	}
	e.hook.before.Store(&f)
	return h, sync.OnceFunc(func() { close(r) })
}

func touches(cmds []redis.Cmder, id string) bool {
	for _, cmd := range cmds {
		for _, arg := range cmd.Args() {
			if s, ok := arg.(string); ok && strings.Contains(s, id) {
				return true
			}
		}
	}
	return false
}

// lead creates c and returns once its first round trip is held, so that the Creates made
// until release queue up behind it; release lets it go on and returns its answer.
func (e *createEnv) lead(t *testing.T, c *telephony.Call) (release func() CreateResult) {
	t.Helper()
	held, let := e.hold(c.ID)
	t.Cleanup(let) // a test that fails on the way out must not leave the Create stuck
	answer := e.create(t.Context(), c)
	waitFor(t, held, "the leader's first round trip")
	return func() CreateResult {
		let()
		return receive(t, answer)
	}
}

// queue creates c with ctx behind a held leader, and returns once it is queued.
func (e *createEnv) queue(t *testing.T, ctx context.Context, c *telephony.Call) <-chan CreateResult {
	t.Helper()
	n := e.queued()
	answer := e.create(ctx, c)
	testenv.Eventually(t, "Create("+c.ID+") queued", func() bool { return e.queued() == n+1 })
	return answer
}

func (e *createEnv) create(ctx context.Context, c *telephony.Call) <-chan CreateResult {
	answer := make(chan CreateResult, 1) // the one answer, taken or not
	e.creates.Go(func() {
		var res CreateResult
		res.Call, res.Created, res.Err = e.b.Create(ctx, c)
		answer <- res
	})
	return answer
}

func (e *createEnv) queued() int {
	e.b.creates.mu.Lock()
	defer e.b.creates.mu.Unlock()
	return len(e.b.creates.waiting)
}

func waitFor(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(testenv.WaitFor):
		t.Fatalf("after %v: still waiting for %s", testenv.WaitFor, what)
	}
}

func receive(t *testing.T, answer <-chan CreateResult) CreateResult {
	t.Helper()
	select {
	case res := <-answer:
		return res
	case <-time.After(testenv.WaitFor):
		t.Fatalf("after %v: still waiting for a Create", testenv.WaitFor)
		return CreateResult{}
	}
}

// checkAnswer fails unless res is Create's answer (got, created, nil).
func checkAnswer(t *testing.T, what string, res CreateResult, got *telephony.Call, created bool) {
	t.Helper()
	if res.Err != nil {
		t.Errorf("%s: Create: %v", what, res.Err)
		return
	}
	if res.Created != created {
		t.Errorf("%s: got created %v, want %v", what, res.Created, created)
	}
	if diff := cmp.Diff(got, res.Call, equalCalls); diff != "" {
		t.Errorf("%s: Create returned (-want +got):\n%s", what, diff)
	}
}

// Concurrent Creates through a Buffered share round trips, on a standalone Redis and on a
// Cluster (whose client splits each pipeline by slot).
func TestBufferedCreateBatches(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, e *createEnv)
	}{
		{name: "creates queued behind one share its round trips", run: testCreatesShareRoundTrips},
		{name: "each caller gets its own answer", run: testCreateBatchAnswers},
		{name: "a step that fails fails the whole batch", run: testCreateBatchFails},
		{name: "a caller that gives up while queued writes nothing", run: testCreateGivesUpQueued},
		{name: "a caller that gives up while written gets its call", run: testCreateGivesUpWritten},
	}
	t.Run("standalone", func(t *testing.T) {
		t.Parallel()
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(t, newCreateEnv(t, newClient(t, testenv.StartRedis(t))))
			})
		}
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		nodes := startClusterRedis(t, len(tests))
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(t, newCreateEnv(t, nodes[i]))
			})
		}
	})
}

// 64 Creates queued behind a leader are written in the round trips of one Create: claims,
// then ownership, records and indexes (in a Cluster, ownership in a round trip apart).
func testCreatesShareRoundTrips(t *testing.T, e *createEnv) {
	perBatch := int64(2)
	if _, cluster := e.c.(*redis.ClusterClient); cluster {
		perBatch = 3
	}
	lead := dialing("lead", 1)
	queued := make([]*telephony.Call, 64)
	for i := range queued {
		queued[i] = dialing(fmt.Sprintf("q-%02d", i), i+2)
	}
	before := e.hook.trips.Load()
	release := e.lead(t, lead)
	answers := make([]<-chan CreateResult, len(queued))
	for i, c := range queued {
		answers[i] = e.queue(t, t.Context(), c)
	}
	checkAnswer(t, "lead", release(), lead, true)
	for i, c := range queued {
		checkAnswer(t, c.ID, receive(t, answers[i]), c, true)
	}
	if got := e.hook.trips.Load() - before; got != 2*perBatch {
		t.Errorf("%d Creates in two batches made %d round trips, want %d", 1+len(queued), got, 2*perBatch)
	}
	checkCalls(t, e.b, append(queued, lead)...)
	ids := []string{"warm-up", "lead"}
	for _, c := range queued {
		ids = append(ids, c.ID)
	}
	checkOwnerKeys(t, e.c, "i-1", true, true, ids...)
	if got := listIDs(t, e.b, Filter{}, 100); len(got) != len(ids) {
		t.Errorf("listed %d calls, want %d", len(got), len(ids))
	}
}

// In one batch, each Create is answered as if the batch's Creates came one after the
// other: the same call twice is created twice, the first of two calls sharing a request id
// claims it for both, and a request id held from before answers its holder.
func testCreateBatchAnswers(t *testing.T, e *createEnv) {
	old := dialing("old", 1)
	mustCreate(t, e.b, old)
	lead := dialing("lead", 2)
	a := dialing("a", 3)
	first := dialing("first", 4)
	first.RequestID = "req-shared"
	second := dialing("second", 5)
	second.RequestID = "req-shared"
	late := dialing("late", 6)
	late.RequestID = old.RequestID
	blocked := ended(dialing("blocked", 7), telephony.StatusDirectionBlocked.Code, telephony.CauseDirectionBlocked, suiteT0)
	steps := []struct {
		name        string
		call        *telephony.Call
		wantCreated bool
		want        *telephony.Call // the call Create answers
	}{
		{name: "a call", call: a, wantCreated: true, want: a},
		{name: "the same call again", call: a.Clone(), wantCreated: true, want: a},
		{name: "first of a request id", call: first, wantCreated: true, want: first},
		{name: "second of the request id", call: second, wantCreated: false, want: first},
		{name: "the first again", call: first.Clone(), wantCreated: true, want: first},
		{name: "a request id held from before", call: late, wantCreated: false, want: old},
		{name: "a call held from before again", call: old.Clone(), wantCreated: true, want: old},
		{name: "created ended", call: blocked, wantCreated: true, want: blocked},
	}
	release := e.lead(t, lead)
	answers := make([]<-chan CreateResult, len(steps))
	for i, st := range steps {
		answers[i] = e.queue(t, t.Context(), st.call)
	}
	checkAnswer(t, "lead", release(), lead, true)
	for i, st := range steps {
		checkAnswer(t, st.name, receive(t, answers[i]), st.want, st.wantCreated)
	}
	for _, id := range []string{second.ID, late.ID} {
		if _, err := e.b.Get(t.Context(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%s): got %v, want %v (its request id is another call's)", id, err, ErrNotFound)
		}
	}
	checkCalls(t, e.b, old, lead, a, first, blocked)
	checkOwnerKeys(t, e.c, "i-1", true, true, "warm-up", "old", "lead", "a", "first")
	checkBuckets(t, e.b, blocked)
	if got := listIDs(t, e.b, Filter{}, 100); !slices.Equal(got, []string{"blocked", "first", "a", "lead", "old", "warm-up"}) {
		t.Errorf("listed %v, want [blocked first a lead old warm-up]", got)
	}
}

// Redis failing one step of a batch fails every Create of it, and leaves each call as a
// Create of its own would: claimed, with no record, so that the client's retry creates it;
// in a Cluster also owned (its own round trip went through), which recovery settles.
func testCreateBatchFails(t *testing.T, e *createEnv) {
	lead := dialing("lead", 1)
	first := dialing("first", 2)
	second := dialing("second", 3)
	second.RequestID = first.RequestID
	other := dialing("other", 4)
	release := e.lead(t, lead)
	var answers []<-chan CreateResult
	for _, c := range []*telephony.Call{first, second, other} {
		answers = append(answers, e.queue(t, t.Context(), c))
	}
	errFailed := errors.New("the records' round trip failed")
	fail := func(cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			if args := cmd.Args(); cmd.Name() == "evalsha" && args[1] == e.r.create.Hash() && touches(cmds, "first") {
				return errFailed
			}
		}
		return nil
	}
	e.hook.before.Store(&fail) // lead's round trip is held by the func this replaces
	checkAnswer(t, "lead", release(), lead, true)
	for i, id := range []string{"first", "second", "other"} {
		if res := receive(t, answers[i]); !errors.Is(res.Err, errFailed) || res.Created || res.Call != nil {
			t.Errorf("Create(%s): got %v, created %v, %v, want the error %q", id, res.Call, res.Created, res.Err, errFailed)
		}
	}
	e.hook.before.Store(nil)
	owned := []string{"warm-up", "lead"}
	if _, cluster := e.c.(*redis.ClusterClient); cluster {
		owned = append(owned, "first", "other")
	}
	checkOwnerKeys(t, e.c, "i-1", true, true, owned...)
	for _, id := range []string{"first", "other"} {
		if _, err := e.b.Get(t.Context(), id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%s) after the failed batch: got %v, want %v", id, err, ErrNotFound)
		}
	}
	// The client's retries, now that Redis answers.
	for _, st := range []struct {
		call        *telephony.Call
		wantCreated bool
		want        *telephony.Call
	}{
		{call: first, wantCreated: true, want: first},
		{call: second, wantCreated: false, want: first},
		{call: other, wantCreated: true, want: other},
	} {
		var res CreateResult
		res.Call, res.Created, res.Err = e.b.Create(t.Context(), st.call)
		checkAnswer(t, "retry of "+st.call.ID, res, st.want, st.wantCreated)
	}
	checkCalls(t, e.b, lead, first, other)
}

// A Create whose caller gives up while it waits behind a batch returns at once and leaves
// nothing: no claim, no ownership, no record.
func testCreateGivesUpQueued(t *testing.T, e *createEnv) {
	lead := dialing("lead", 1)
	quitter := dialing("quitter", 2)
	release := e.lead(t, lead)
	ctx, cancel := context.WithCancel(t.Context())
	answer := e.queue(t, ctx, quitter)
	cancel()
	if res := receive(t, answer); !errors.Is(res.Err, context.Canceled) || res.Created || res.Call != nil {
		t.Errorf("Create given up: got %v, created %v, %v, want %v", res.Call, res.Created, res.Err, context.Canceled)
	}
	if n := e.queued(); n != 0 {
		t.Errorf("%d Creates still queued, want 0", n)
	}
	checkAnswer(t, "lead", release(), lead, true)
	if _, err := e.b.Get(t.Context(), quitter.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(%s): got %v, want %v", quitter.ID, err, ErrNotFound)
	}
	if n := e.c.Exists(t.Context(), requestKey(quitter.RequestID)).Val(); n != 0 {
		t.Errorf("the request id of the Create given up is claimed")
	}
	checkOwnerKeys(t, e.c, "i-1", true, true, "warm-up", "lead")
}

// A caller that gives up once its call is being written still gets the outcome, so that
// it never takes for failed a call that was created, and the batch goes on for all.
func testCreateGivesUpWritten(t *testing.T, e *createEnv) {
	lead := dialing("lead", 1)
	stays := dialing("stays", 2)
	quitter := dialing("quitter", 3)
	release := e.lead(t, lead)
	ctx, cancel := context.WithCancel(t.Context())
	answers := []<-chan CreateResult{e.queue(t, t.Context(), stays), e.queue(t, ctx, quitter)}
	held, let := e.hold(stays.ID) // the batch of stays and quitter, by its first round trip
	t.Cleanup(let)
	checkAnswer(t, "lead", release(), lead, true)
	waitFor(t, held, "the batch's first round trip")
	cancel()
	let()
	checkAnswer(t, "stays", receive(t, answers[0]), stays, true)
	checkAnswer(t, "quitter", receive(t, answers[1]), quitter, true)
	checkCalls(t, e.b, lead, stays, quitter)
}

// CreateMany answers a call it cannot store with Create's error, and creates the others.
func TestRedisCreateManyInvalid(t *testing.T) {
	s := newRedisStore(t)
	a, b := dialing("a", 1), dialing("b", 2)
	res := s.CreateMany(t.Context(), []*telephony.Call{a, {Gateway: "gw"}, nil, b})
	for _, i := range []int{1, 2} {
		if !errors.Is(res[i].Err, ErrInvalidCall) || res[i].Created || res[i].Call != nil {
			t.Errorf("res[%d]: got %+v, want %v", i, res[i], ErrInvalidCall)
		}
	}
	checkAnswer(t, "a", res[0], a, true)
	checkAnswer(t, "b", res[3], b, true)
	checkCalls(t, s, a, b)
}
