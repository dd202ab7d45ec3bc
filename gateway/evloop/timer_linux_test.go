//go:build linux

package evloop

import (
	"container/heap"
	"testing"
)

// TestTimersOrder: the heap yields the earliest deadline first, keeps each
// connection's index (hi) in step, and remove takes a timer out from the
// middle.
func TestTimersOrder(t *testing.T) {
	var ts evTimers
	conns := make([]*Conn, 6)
	for i, when := range []int64{50, 10, 40, 30, 60, 20} {
		conns[i] = &Conn{when: when}
		heap.Push(&ts, conns[i])
	}
	for _, e := range conns {
		if e.hi == 0 || ts[e.hi-1] != e {
			t.Fatalf("index %d does not point at its connection", e.hi)
		}
	}
	if ts.due(9) || !ts.due(10) {
		t.Fatal("due does not follow the earliest deadline")
	}
	ts.remove(conns[3]) // 30
	ts.remove(conns[3]) // no timer any more: nothing happens
	var got []int64
	for len(ts) > 0 {
		got = append(got, heap.Pop(&ts).(*Conn).when)
	}
	want := []int64{10, 20, 40, 50, 60}
	if len(got) != len(want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("popped %v, want %v", got, want)
		}
	}
	for _, e := range conns {
		if e.hi != 0 {
			t.Fatalf("a popped connection keeps index %d", e.hi)
		}
	}
}
