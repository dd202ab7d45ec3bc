package evloop

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

// Loops relays connections the way HAProxy does: each loop owns an epoll instance, waits for readiness
// first and only then reads, writes or splices, so a connection costs no
// goroutine, no Go poller registration and no read that finds nothing. The
// caller accepts (Accept4) and hands the socket over (Add); the loop dials the backend without blocking and relays until both
// directions end. A loop waits for its epoll descriptor in the Go poller,
// so an idle loop holds no thread.
type Loops struct {
	loops []*loop
	next  atomic.Uint32
}

// New starts n loops (GOMAXPROCS when n <= 0).
func New(n int) (*Loops, error) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	ls := &Loops{}
	for range n {
		l, err := newLoop()
		if err != nil {
			ls.Close()
			return nil, err
		}
		ls.loops = append(ls.loops, l)
	}
	return ls, nil
}

// pick chooses the loop for a new connection, round robin. The counter
// wraps: unsigned arithmetic keeps the index in range on 32-bit platforms.
func (ls *Loops) pick() *loop {
	return ls.loops[(ls.next.Add(1)-1)%uint32(len(ls.loops))]
}

// Close stops every loop; connections still open end with reason shutdown.
func (ls *Loops) Close() {
	for _, l := range ls.loops {
		l.close()
	}
}

// Open reports the connections the loops hold.
func (ls *Loops) Open() int {
	n := 0
	for _, l := range ls.loops {
		n += int(l.count.Load())
	}
	return n
}

// loop is one event loop. Everything but the task queue (qmu's fields)
// and count belongs to the loop's goroutine: other goroutines reach it
// only through push, which wakes the loop through an eventfd in its epoll
// set.
type loop struct {
	epfd int
	efd  int             // eventfd: push wakes the loop
	file *os.File        // epfd, registered in the Go poller: the loop waits on it
	rc   syscall.RawConn // of file

	qmu     sync.Mutex
	tasks   []task // pushed by other goroutines, run by the loop
	woken   bool   // an eventfd write is pending
	stopped bool   // the loop has ended: push refuses
	closed  atomic.Bool

	count   atomic.Int64     // len(conns), for tests
	conns   map[uint64]*Conn // by token
	next    uint64
	closing bool // the close task ran: shut down what is left, then end
	exit    bool // run returns
	timers  evTimers
	armed   int64 // the wait deadline currently set (unixnano; 0 none, -1 passed)
	running []task

	done    chan struct{}
	buf     []byte // the loop's read buffer: data is written on at once
	events  []unix.EpollEvent
	again   []*Conn // connections to turn again: they stopped at evBudget
	turning []*Conn // the again list being turned
	left    []*Conn // close scratch
}

// task is work another goroutine hands to a loop.
type task struct {
	op uint8
	e  *Conn
}

// task ops.
const (
	opAdd   = iota + 1 // register e's client socket
	opAbort            // end e (Conn.Abort)
	opClose            // shut down every connection and end the loop
)

// Prepare makes a connection of the accepted, non-blocking client socket fd
// on the next loop, round robin. The caller records it (for Abort), then
// calls Start; until then the loop does not know it.
func (ls *Loops) Prepare(fd int, h Host) *Conn {
	return newConn(h, ls.pick(), fd)
}

// Start hands the connection to its loop, which registers the socket.
// Registration reports the socket writable at once, and that first event
// starts the dial in the loop, so the accepting goroutine goes back to
// accepting at once. An error means the loop is closed: fd is still the
// caller's and Host.Finish will not be called.
func (e *Conn) Start() error {
	if e.loop.closed.Load() || !e.loop.push(task{op: opAdd, e: e}) {
		return errors.New("event loop closed")
	}
	return nil
}

// tokWake is the eventfd's token; connection tokens start at 1.
const tokWake = 0

func newLoop() (*loop, error) {
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
	l := &loop{epfd: epfd, efd: efd, file: f, rc: rc, conns: make(map[uint64]*Conn), next: 1,
		done: make(chan struct{}), buf: make([]byte, bufSize), events: make([]unix.EpollEvent, 256)}
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
func (l *loop) push(t task) bool {
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

// runTasks runs what other goroutines pushed, until none is left.
func (l *loop) runTasks(now int64) {
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

func (l *loop) runTask(t task, now int64) {
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
			e.fail(ReasonClientError, err)
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
			e.fail(ReasonShutdown, nil)
		}
		clear(l.left)
	}
}

// register adds fd to the epoll set, edge-triggered for input, output and
// hang-ups.
func (l *loop) register(fd int, tok uint64) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET}
	setToken(&ev, tok)
	if err := sysEpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// remove forgets a connection and its timer; a late event for its token
// finds nothing.
func (l *loop) remove(e *Conn) {
	if l.conns[e.tok] == e {
		delete(l.conns, e.tok)
		l.count.Add(-1)
	}
	l.timers.remove(e)
}

// run is the loop: drain ready events and tasks, relay, fire timers, wait.
func (l *loop) run() {
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
func (l *loop) stop() {
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
func (l *loop) poll(uintptr) bool {
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

// close ends the loop: connections still open are shut down (the caller
// normally ends them before), then the loop stops.
func (l *loop) close() {
	if l.closed.Swap(true) {
		return
	}
	l.push(task{op: opClose})
	<-l.done
	l.file.Close()
	unix.Close(l.efd)
}
