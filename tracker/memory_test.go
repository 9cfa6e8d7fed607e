package tracker

import "testing"

func TestMemory(t *testing.T) {
	testStore(t, func(*testing.T) Store { return NewMemory() })
}
