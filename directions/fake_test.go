package directions

import "context"

// fakeStore is a Store that behaves like Store (a Memory by default) except for the
// calls given a function.
type fakeStore struct {
	Store
	rules     func(ctx context.Context, gateway string) ([]Rule, uint64, error)
	version   func(ctx context.Context, gateway string) (uint64, error)
	subscribe func(ctx context.Context, changed func(string)) error
}

func (f *fakeStore) Rules(ctx context.Context, gateway string) ([]Rule, uint64, error) {
	if f.rules != nil {
		return f.rules(ctx, gateway)
	}
	return f.Store.Rules(ctx, gateway)
}

func (f *fakeStore) Version(ctx context.Context, gateway string) (uint64, error) {
	if f.version != nil {
		return f.version(ctx, gateway)
	}
	return f.Store.Version(ctx, gateway)
}

func (f *fakeStore) Subscribe(ctx context.Context, changed func(string)) error {
	if f.subscribe != nil {
		return f.subscribe(ctx, changed)
	}
	return f.Store.Subscribe(ctx, changed)
}

// deaf is a subscription that is never established: it hears nothing until ctx ends.
func deaf(ctx context.Context, _ func(string)) error {
	<-ctx.Done()
	return ctx.Err()
}
