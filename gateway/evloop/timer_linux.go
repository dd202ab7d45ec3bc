package evloop

import (
	"container/heap"
	"time"
)

// A loop's timeouts: one timer per connection in a min-heap by deadline,
// owned by the loop's goroutine. The loop's wait deadline (the epoll
// file's read deadline) is the earliest timer. A timer may fire early:
// the idle deadline is not moved on every byte (arm leaves a timer that is
// earlier than the connection's deadline), so on expiry the loop checks
// the connection's state and last activity and re-arms it.

// evTimers is the heap; an Conn's hi is its index + 1 (0: not in it).
type evTimers []*Conn

func (t evTimers) Len() int           { return len(t) }
func (t evTimers) Less(i, j int) bool { return t[i].when < t[j].when }
func (t evTimers) Swap(i, j int) {
	t[i], t[j] = t[j], t[i]
	t[i].hi, t[j].hi = i+1, j+1
}

// Push and Pop are for container/heap only.
func (t *evTimers) Push(x any) {
	e := x.(*Conn)
	e.hi = len(*t) + 1
	*t = append(*t, e)
}

func (t *evTimers) Pop() any {
	old := *t
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*t = old[:len(old)-1]
	e.hi = 0
	return e
}

// due reports whether the earliest timer has passed.
func (t evTimers) due(now int64) bool { return len(t) > 0 && t[0].when <= now }

// remove takes e's timer out, if it has one.
func (t *evTimers) remove(e *Conn) {
	if e.hi > 0 {
		heap.Remove(t, e.hi-1)
	}
}

// arm sets e's timer to its state's deadline. Unless force, a timer that
// is already earlier stays (it fires early and is re-armed then).
func (l *loop) arm(e *Conn, force bool) {
	d := int64(0)
	if !e.ended {
		d = e.deadlineNow()
	}
	switch {
	case d == 0:
		l.timers.remove(e)
		return
	case e.hi == 0:
		e.when = d
		heap.Push(&l.timers, e)
	case force || d < e.when:
		e.when = d
		heap.Fix(&l.timers, e.hi-1)
	default:
		return
	}
	if l.armed <= 0 || d < l.armed {
		l.setWait(l.timers[0].when)
	}
}

// fire acts on the timers that have passed, then sets the wait deadline to
// the earliest one left.
func (l *loop) fire(now int64) {
	for l.timers.due(now) {
		e := l.timers[0]
		if e.due(now) {
			e.expire(now)
		}
		if !e.ended {
			l.arm(e, true)
		} else {
			l.timers.remove(e)
		}
	}
	next := int64(0)
	if len(l.timers) > 0 {
		next = l.timers[0].when
	}
	l.setWait(next)
}

// setWait sets the loop's wait deadline (0: none).
func (l *loop) setWait(d int64) {
	if d == l.armed {
		return
	}
	l.armed = d
	t := time.Time{}
	if d > 0 {
		t = time.Unix(0, d)
	}
	_ = l.file.SetReadDeadline(t)
}
