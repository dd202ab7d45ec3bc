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

// pick chooses the loop for a new connection, round robin. The counter
// wraps: unsigned arithmetic keeps the index in range on 32-bit platforms.
func (ls *evLoops) pick() *evLoop {
	return ls.loops[(ls.next.Add(1)-1)%uint32(len(ls.loops))]
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
		n += int(l.count.Load())
	}
	return n
}

// evLoop is one event loop. Everything but the task queue (qmu's fields)
// and count belongs to the loop's goroutine: other goroutines reach it
// only through push, which wakes the loop through an eventfd in its epoll
// set.
type evLoop struct {
	epfd int
	efd  int             // eventfd: push wakes the loop
	file *os.File        // epfd, registered in the Go poller: the loop waits on it
	rc   syscall.RawConn // of file

	qmu     sync.Mutex
	tasks   []evTask // pushed by other goroutines, run by the loop
	woken   bool     // an eventfd write is pending
	stopped bool     // the loop has ended: push refuses
	closed  atomic.Bool

	count   atomic.Int64       // len(conns), for tests
	conns   map[uint64]*evConn // by token
	next    uint64
	closing bool // the close task ran: shut down what is left, then end
	exit    bool // run returns
	timers  evTimers
	armed   int64 // the wait deadline currently set (unixnano; 0 none, -1 passed)
	running []evTask

	done    chan struct{}
	buf     []byte // the loop's read buffer: data is written on at once
	events  []unix.EpollEvent
	again   []*evConn // connections to turn again: they stopped at evBudget
	turning []*evConn // the again list being turned
	left    []*evConn // close scratch
}

// evTask is work another goroutine hands to a loop.
type evTask struct {
	op uint8
	e  *evConn
}

// evTask ops.
const (
	opAdd   = iota + 1 // register e's client socket
	opAbort            // end e (conn.shutdown)
	opClose            // shut down every connection and end the loop
)

// tokWake is the eventfd's token; connection tokens start at 1.
const tokWake = 0

func newEvLoop() (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("event loop: epoll_create: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("event loop: epoll nonblock: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("event loop: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET}
	setToken(&ev, tokWake)
	if err := sysEpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &ev); err != nil {
		unix.Close(efd)
		unix.Close(epfd)
		return nil, fmt.Errorf("event loop: epoll_ctl eventfd: %w", err)
	}
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		unix.Close(efd)
		return nil, fmt.Errorf("event loop: %w", err)
	}
	l := &evLoop{epfd: epfd, efd: efd, file: f, rc: rc, conns: make(map[uint64]*evConn), next: 1,
		done: make(chan struct{}), buf: make([]byte, copyBufSize), events: make([]unix.EpollEvent, 256)}
	// The epoll descriptor must be in the Go poller (a file that is not
	// takes no deadline), or the loop would block a thread.
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		f.Close()
		unix.Close(efd)
		return nil, fmt.Errorf("event loop: epoll not pollable: %w", err)
	}
	go l.run()
	return l, nil
}

// Token sides: a connection's token is shifted left once, the low bit
// names the socket.
const (
	sideClient  = 0
	sideBackend = 1
)

// push hands t to the loop and wakes it; false once the loop has ended.
func (l *evLoop) push(t evTask) bool {
	l.qmu.Lock()
	if l.stopped {
		l.qmu.Unlock()
		return false
	}
	l.tasks = append(l.tasks, t)
	wake := !l.woken
	l.woken = true
	l.qmu.Unlock()
	if wake {
		var one = [8]byte{1}
		_, _ = sysWrite(l.efd, one[:])
	}
	return true
}

// add hands a connection's client socket to the loop, which registers it.
// Registration reports the socket writable at once, and that first event
// starts the dial in the loop, so the accepting goroutine goes back to
// accept4 at once.
func (l *evLoop) add(e *evConn) error {
	if l.closed.Load() || !l.push(evTask{op: opAdd, e: e}) {
		return errors.New("event loop closed")
	}
	return nil
}

// runTasks runs what other goroutines pushed, until none is left.
func (l *evLoop) runTasks(now int64) {
	var drain [8]byte
	_, _ = sysRead(l.efd, drain[:])
	for {
		l.qmu.Lock()
		l.woken = false
		l.running, l.tasks = l.tasks, l.running[:0]
		l.qmu.Unlock()
		if len(l.running) == 0 {
			return
		}
		for _, t := range l.running {
			l.runTask(t, now)
		}
		clear(l.running)
	}
}

func (l *evLoop) runTask(t evTask, now int64) {
	e := t.e
	switch t.op {
	case opAdd:
		if e.ended {
			return // aborted before it was added
		}
		if l.closing {
			e.refuse()
			return
		}
		e.tok = l.next
		l.next++
		l.conns[e.tok] = e
		l.count.Add(1)
		if err := l.register(e.cfd, e.tok<<1|sideClient); err != nil {
			e.fail(reasonClientError, err)
			return
		}
		l.arm(e, false)
	case opAbort:
		if !e.ended {
			e.fail("", nil)
		}
	case opClose:
		l.closing = true
		l.left = l.left[:0]
		for _, e := range l.conns {
			l.left = append(l.left, e)
		}
		for _, e := range l.left {
			e.h.shutdown(reasonShutdown) // pushes an abort
		}
		clear(l.left)
	}
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

// remove forgets a connection and its timer; a late event for its token
// finds nothing.
func (l *evLoop) remove(e *evConn) {
	if l.conns[e.tok] == e {
		delete(l.conns, e.tok)
		l.count.Add(-1)
	}
	l.timers.remove(e)
}

// run is the loop: drain ready events and tasks, relay, fire timers, wait.
func (l *evLoop) run() {
	defer l.stop()
	waitFn := l.poll
	for !l.exit {
		err := l.rc.Read(waitFn)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				return // closed
			}
			l.armed = -1
		}
		l.fire(time.Now().UnixNano())
	}
}

// stop ends the loop: later pushes are refused, and connections pushed
// before are refused now.
func (l *evLoop) stop() {
	l.qmu.Lock()
	l.stopped = true
	left := l.tasks
	l.tasks = nil
	l.qmu.Unlock()
	for _, t := range left {
		if t.op == opAdd && !t.e.ended {
			t.e.refuse()
		}
	}
	close(l.done)
}

// poll handles ready events, and turns again the connections that stopped
// at their budget, until nothing is left (false: wait in the Go poller) or
// a timer is due or the loop ends (true).
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
			if tok == tokWake {
				l.runTasks(now)
				continue
			}
			if e := l.conns[tok>>1]; e != nil {
				e.event(int(tok&1), ev.Events, now)
			}
		}
		if l.closing && len(l.conns) == 0 {
			l.exit = true
			return true
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
		if l.timers.due(now) {
			return true
		}
	}
}

// close ends the loop: connections still open are shut down (the gateway
// drains them before, so normally none is left), then the loop stops.
func (l *evLoop) close() {
	if l.closed.Swap(true) {
		return
	}
	l.push(evTask{op: opClose})
	<-l.done
	l.file.Close()
	unix.Close(l.efd)
}
