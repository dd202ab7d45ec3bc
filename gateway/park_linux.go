package gateway

import (
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// parker lets idle relay directions wait without a goroutine. A direction
// that finds nothing queued registers its socket here and its goroutine
// ends; one goroutine waits on an epoll instance of the parker's own and
// starts a new goroutine for a direction whose socket became readable (or
// hung up). An idle relayed connection then costs its two sockets and a few
// hundred bytes of state, not two goroutine stacks.
//
// Ownership of a parked direction is the entry in parked: whoever removes
// it (the wait loop on an event, or cancel on an abort) runs the direction
// on. Tokens are never reused, so a late event for a closed, reused
// descriptor finds nothing.
type parker struct {
	epfd   int
	wakefd int // eventfd: wakes the wait loop to stop

	mu     sync.Mutex
	parked map[uint64]*tcpDir
	next   uint64
	closed bool
	done   chan struct{}
}

// newParker starts a parker.
func newParker() (*parker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("parker: epoll_create: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("parker: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	ev.Fd, ev.Pad = 0, 0 // token 0: the wake descriptor
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("parker: epoll_ctl wake: %w", err)
	}
	p := &parker{epfd: epfd, wakefd: wakefd, parked: make(map[uint64]*tcpDir), next: 1, done: make(chan struct{})}
	go p.loop()
	return p, nil
}

// errNotParked is returned by park when the parker is closed or the socket
// could not be registered: the caller waits in the Go poller instead.
var errNotParked = errors.New("not parked")

// park registers t's source socket for one readability event. On success
// the caller's goroutine must return without touching t again.
func (p *parker) park(t *tcpDir, fd int) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errNotParked
	}
	tok := p.next
	p.next++
	p.parked[tok] = t
	t.token = tok
	t.parkFD = fd
	p.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	setToken(&ev, tok)
	// An already readable socket is reported at once: no wakeup is lost
	// between the read that found nothing and this registration.
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.parked, tok)
		p.mu.Unlock()
		return fmt.Errorf("%w: epoll_ctl: %w", errNotParked, err)
	}
	return nil
}

// cancel takes a parked direction back (an abort): it reports whether t was
// parked, in which case the caller now owns it.
func (p *parker) cancel(t *tcpDir) bool {
	p.mu.Lock()
	cur, ok := p.parked[t.token]
	if ok && cur == t {
		delete(p.parked, t.token)
	}
	p.mu.Unlock()
	if !ok || cur != t {
		return false
	}
	_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, t.parkFD, nil)
	return true
}

// loop waits for events and resumes their directions.
func (p *parker) loop() {
	defer close(p.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		for i := range events[:n] {
			tok := token(&events[i])
			if tok == 0 {
				return // woken to stop
			}
			p.mu.Lock()
			t := p.parked[tok]
			delete(p.parked, tok)
			p.mu.Unlock()
			if t == nil {
				continue // cancelled meanwhile
			}
			_ = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, t.parkFD, nil)
			go t.resume()
		}
	}
}

// close stops the wait loop and hands every parked direction back to a
// goroutine of its own (they then wait in the Go poller).
func (p *parker) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	left := p.parked
	p.parked = nil
	p.mu.Unlock()
	var one = [8]byte{1}
	_, _ = unix.Write(p.wakefd, one[:])
	<-p.done
	unix.Close(p.epfd)
	unix.Close(p.wakefd)
	for _, t := range left {
		go t.resume()
	}
}

// parkedCount reports how many directions are parked (tests, status).
func (p *parker) parkedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// setToken stores a token in the event's data (Fd and Pad: 8 bytes).
func setToken(ev *unix.EpollEvent, tok uint64) {
	ev.Fd = int32(uint32(tok))
	ev.Pad = int32(uint32(tok >> 32))
}

func token(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}
