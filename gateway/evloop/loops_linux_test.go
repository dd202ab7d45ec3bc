//go:build linux

package evloop

import (
	"math"
	"testing"
)

// TestLoopsPickWraps: the round robin stays in range when its counter
// wraps (on 386 and arm an int conversion would go negative at 2^31).
func TestLoopsPickWraps(t *testing.T) {
	ls := &Loops{loops: []*loop{{}, {}, {}}}
	for _, start := range []uint32{math.MaxInt32 - 2, math.MaxUint32 - 2} {
		ls.next.Store(start)
		for range 6 {
			if ls.pick() == nil {
				t.Fatal("no loop picked")
			}
		}
	}
}
