package udprelay

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Why a session ended, as logged.
const (
	reasonIdle     = "idle"
	reasonShutdown = "shutdown"
)

// session is one client address and its own connected backend socket.
type session struct {
	r       *Relay
	client  netip.AddrPort
	started time.Time
	last    atomic.Int64 // Relay.now() at the last datagram either way
	bc      atomic.Pointer[backendConn]

	dgramsIn, bytesIn   atomic.Uint64 // client → backend
	dgramsOut, bytesOut atomic.Uint64 // backend → client
	backendErrs         atomic.Uint64

	mu     sync.Mutex // guards ended, reason and swapping bc
	ended  bool
	reason string

	replyState // the reply path's, owned by the reply goroutine
}

func newSession(r *Relay, client netip.AddrPort, bc *backendConn) *session {
	s := &session{r: r, client: client, started: time.Now()}
	s.bc.Store(bc)
	s.last.Store(r.now())
	s.initReplies()
	return s
}

// send writes one client datagram to the backend. It reports false only when
// the session has ended, so the caller may start a new one.
func (s *session) send(p []byte) bool {
	bc := s.bc.Load()
	_, err := bc.conn.Write(p)
	if err == nil {
		s.last.Store(s.r.now())
		s.dgramsIn.Add(1)
		s.bytesIn.Add(uint64(len(p)))
		s.r.c.dgramsIn.Add(1)
		s.r.c.bytesIn.Add(uint64(len(p)))
		return true
	}
	switch {
	case errors.Is(err, net.ErrClosed):
		if s.isEnded() {
			return false
		}
		// Swapped by a failover between Load and Write: this datagram is lost.
		s.backendError()
	case isBackendDown(err):
		s.backendError()
		s.failover(bc)
	case isFull(err):
		s.r.c.full.Add(1)
	default:
		s.backendError()
	}
	return true
}

func (s *session) backendError() {
	s.backendErrs.Add(1)
	s.r.c.backendErr.Add(1)
}

func (s *session) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// replyLoop reads the backend's replies and sends them to the client through
// the listening socket, until the session ends. It logs the session's one line.
func (s *session) replyLoop() {
	defer s.r.wg.Done()
	var failure error
	for {
		bc := s.bc.Load()
		err := s.readReplies(bc)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				if s.bc.Load() != bc {
					continue // failover swapped the socket
				}
				if s.isEnded() {
					break
				}
			}
			if isBackendDown(err) {
				// ICMP port unreachable for an earlier datagram: the
				// socket stays usable; count it and try the next backend.
				s.backendError()
				s.failover(bc)
				continue
			}
			if isTransient(err) {
				s.r.c.other.Add(1)
				continue
			}
			failure = err
			break
		}
		s.sendReplies()
	}
	if failure != nil {
		s.end("error: " + failure.Error())
	}
	s.r.c.active.Add(-1)
	s.logEnd()
}

// replied counts n replies of size bytes in all, sent to the client.
func (s *session) replied(n, size int) {
	s.last.Store(s.r.now())
	s.dgramsOut.Add(uint64(n))
	s.bytesOut.Add(uint64(size))
	s.r.c.dgramsOut.Add(uint64(n))
	s.r.c.bytesOut.Add(uint64(size))
}

// failover moves the session off bad to the next backend, if there is one and
// nobody moved it yet. The datagram that met the dead backend is lost.
func (s *session) failover(bad *backendConn) {
	s.r.markDown(bad.idx)
	n := len(s.r.backends)
	if n < 2 {
		return // a connected UDP socket survives ECONNREFUSED; keep it
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || s.bc.Load() != bad {
		return
	}
	nb, err := s.r.dial((bad.idx + 1) % n)
	if err != nil {
		return
	}
	s.r.c.failovers.Add(1)
	s.bc.Store(nb)
	bad.conn.Close()
}

// end closes the session's socket once; the reply goroutine then exits and logs.
func (s *session) end(reason string) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	s.reason = reason
	bc := s.bc.Load()
	s.mu.Unlock()
	s.r.remove(s)
	bc.conn.Close()
}

func (s *session) logEnd() {
	s.mu.Lock()
	reason := s.reason
	s.mu.Unlock()
	ev := s.r.log.Debug()
	if reason != reasonIdle && reason != reasonShutdown {
		ev = s.r.log.Warn()
	}
	ev.Str("client", s.client.String()).
		Str("backend", s.r.names[s.bc.Load().idx]).
		Uint64("datagrams_up", s.dgramsIn.Load()). // client → backend, as on TCP lines
		Uint64("bytes_up", s.bytesIn.Load()).
		Uint64("datagrams_down", s.dgramsOut.Load()).
		Uint64("bytes_down", s.bytesOut.Load()).
		Uint64("backend_errors", s.backendErrs.Load()).
		Float64("duration_s", time.Since(s.started).Seconds()).
		Str("reason", reason).
		Msg("udp session end")
}

func isBackendDown(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH)
}

func isFull(err error) bool {
	return errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.EAGAIN)
}

func isTransient(err error) bool {
	return errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.EINTR)
}
