package gateway

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// evLoops relays the connections of evented listeners (route.evented) the
// way HAProxy does: each loop owns an epoll instance, waits for readiness
// first and only then reads, writes or splices, so a connection costs no
// goroutine, no Go poller registration and no read that finds nothing. The
// listener's goroutine accepts with accept4 and hands the socket over; the
// loop dials the backend without blocking and relays until both
// directions end. A loop waits for its epoll descriptor in the Go poller,
// so an idle loop holds no thread.
type evLoops struct {
	loops []*evLoop
	next  atomic.Uint32
}

// newEvLoops starts n loops (GOMAXPROCS when n <= 0).
func newEvLoops(n int) (*evLoops, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	ls := &evLoops{}
	for range n {
		l, err := newEvLoop()
		if err != nil {
			ls.close()
			return nil, err
		}
		ls.loops = append(ls.loops, l)
	}
	return ls, nil
}

// pick chooses the loop for a new connection, round robin.
func (ls *evLoops) pick() *evLoop {
	return ls.loops[int(ls.next.Add(1))%len(ls.loops)]
}

// close stops every loop; connections still open end with reason shutdown.
func (ls *evLoops) close() {
	for _, l := range ls.loops {
		l.close()
	}
}

// open reports the connections the loops hold (tests).
func (ls *evLoops) open() int {
	n := 0
	for _, l := range ls.loops {
		l.mu.Lock()
		n += len(l.conns)
		l.mu.Unlock()
	}
	return n
}

// Sweep interval bounds: idle and connect timeouts are checked every tenth
// of the shortest timeout a loop's connections have, within these bounds.
const (
	evTickMin = 5 * time.Millisecond
	evTickMax = time.Second
)

// evLoop is one event loop.
type evLoop struct {
	epfd int
	file *os.File        // epfd, registered in the Go poller: the loop waits on it
	rc   syscall.RawConn // of file

	mu     sync.Mutex
	conns  map[uint64]*evConn // by token
	next   uint64
	closed bool

	minTimeout atomic.Int64 // shortest idle/connect timeout of a connection added, ns
	nextSweep  int64        // unixnano

	done    chan struct{}
	buf     []byte // the loop's read buffer: data is written on at once
	events  []unix.EpollEvent
	expired []*evConn // sweep scratch
	again   []*evConn // connections to turn again: they stopped at evBudget
	turning []*evConn // the again list being turned
}

func newEvLoop() (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("event loop: epoll_create: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("event loop: epoll nonblock: %w", err)
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("event loop: %w", err)
	}
	l := &evLoop{epfd: epfd, file: f, rc: rc, conns: make(map[uint64]*evConn), next: 1,
		done: make(chan struct{}), buf: make([]byte, copyBufSize), events: make([]unix.EpollEvent, 256)}
	l.minTimeout.Store(int64(evTickMax * 10))
	// The epoll descriptor must be in the Go poller (a file that is not
	// takes no deadline), or the loop would block a thread. The deadline is
	// the first sweep's.
	if err := f.SetReadDeadline(time.Now().Add(evTickMax)); err != nil {
		f.Close()
		return nil, fmt.Errorf("event loop: epoll not pollable: %w", err)
	}
	l.nextSweep = time.Now().Add(evTickMax).UnixNano()
	go l.run()
	return l, nil
}

// Token sides: a connection's token is shifted left once, the low bit
// names the socket.
const (
	sideClient  = 0
	sideBackend = 1
)

// add registers a connection's client socket. Registration reports the
// socket writable at once, and that first event starts the dial in the
// loop, so the accepting goroutine goes back to accept4 at once.
func (l *evLoop) add(e *evConn) error {
	// Read what add needs before the connection is published: from then
	// on the loop owns it (and the ordering through epoll is invisible to
	// the race detector).
	fd, t := e.cfd, e.timeout()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return errors.New("event loop closed")
	}
	tok := l.next
	e.tok = tok
	l.next++
	l.conns[tok] = e
	l.mu.Unlock()
	if t > 0 && t < time.Duration(l.minTimeout.Load()) {
		l.minTimeout.Store(int64(t))
		// Wake the loop sooner than its current sweep.
		_ = l.file.SetReadDeadline(time.Now().Add(sweepTick(t)))
	}
	if err := l.register(fd, tok<<1|sideClient); err != nil {
		l.mu.Lock()
		delete(l.conns, tok)
		l.mu.Unlock()
		return err
	}
	return nil
}

// register adds fd to the epoll set, edge-triggered for input, output and
// hang-ups.
func (l *evLoop) register(fd int, tok uint64) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET}
	setToken(&ev, tok)
	if err := sysEpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// remove forgets a connection; a late event for its token finds nothing.
func (l *evLoop) remove(e *evConn) {
	l.mu.Lock()
	delete(l.conns, e.tok)
	l.mu.Unlock()
}

func sweepTick(t time.Duration) time.Duration {
	return min(max(t/10, evTickMin), evTickMax)
}

// run is the loop: drain ready events, relay, sweep timeouts, wait.
func (l *evLoop) run() {
	defer close(l.done)
	waitFn := l.poll
	for {
		err := l.rc.Read(waitFn)
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return // closed
		}
		if now := time.Now(); now.UnixNano() >= l.nextSweep || err != nil {
			l.sweep(now)
		}
	}
}

// poll handles ready events, and turns again the connections that stopped
// at their budget, until nothing is left (false: wait in the Go poller) or
// a sweep is due (true).
func (l *evLoop) poll(uintptr) bool {
	for {
		n, err := sysEpollPoll(l.epfd, l.events)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return true
		}
		now := time.Now().UnixNano()
		for i := range l.events[:n] {
			ev := &l.events[i]
			tok := token(ev)
			l.mu.Lock()
			e := l.conns[tok>>1]
			l.mu.Unlock()
			if e != nil {
				e.event(int(tok&1), ev.Events, now)
			}
		}
		if len(l.again) > 0 {
			l.turning, l.again = l.again, l.turning[:0]
			for _, e := range l.turning {
				e.queued = false
				if !e.ended {
					e.pump(now)
					e.requeue()
				}
			}
			clear(l.turning)
		} else if n == 0 {
			return false
		}
		if now >= l.nextSweep {
			return true
		}
	}
}

// sweep ends connections past their idle or connect timeout and sets the
// next wake-up.
func (l *evLoop) sweep(now time.Time) {
	ns := now.UnixNano()
	shortest := time.Duration(evTickMax * 10)
	l.expired = l.expired[:0]
	l.mu.Lock()
	for _, e := range l.conns {
		if t := e.timeout(); t > 0 && t < shortest {
			shortest = t
		}
		if e.due(ns) {
			l.expired = append(l.expired, e)
		}
	}
	l.mu.Unlock()
	for _, e := range l.expired {
		e.expire(ns)
	}
	clear(l.expired)
	l.minTimeout.Store(int64(shortest))
	tick := sweepTick(shortest)
	l.nextSweep = now.Add(tick).UnixNano()
	_ = l.file.SetReadDeadline(now.Add(tick))
}

// close ends the loop: connections still open are shut down (the gateway
// drains them before, so normally none is left), then the loop stops.
func (l *evLoop) close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	left := make([]*evConn, 0, len(l.conns))
	for _, e := range l.conns {
		left = append(left, e)
	}
	l.mu.Unlock()
	for _, e := range left {
		e.h.shutdown(reasonShutdown)
	}
	// Let the loop see the shutdowns, bounded.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		l.mu.Lock()
		n := len(l.conns)
		l.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.file.Close() // ends run's wait; the descriptor closes once it returns
	<-l.done
}
