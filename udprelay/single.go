//go:build !linux

package udprelay

import (
	"net"
	"net/netip"
	"sync"
)

// Without recvmmsg and sendmmsg datagrams move one at a time.

func (r *Relay) initBatches(int) {}

// listenerReader reads client datagrams from the listening socket.
type listenerReader struct {
	ln   *net.UDPConn
	pool *sync.Pool
	bp   *[]byte
	n    int
	from netip.AddrPort
}

func (r *Relay) newReader() (*listenerReader, error) {
	return &listenerReader{ln: r.ln, pool: &r.pool, bp: r.pool.Get().(*[]byte)}, nil
}

// read waits for a datagram; it returns 1, how many arrived.
func (lr *listenerReader) read() (int, error) {
	n, from, err := lr.ln.ReadFromUDPAddrPort(*lr.bp)
	if err != nil {
		return 0, err
	}
	lr.n, lr.from = n, from
	return 1, nil
}

// datagram is the datagram last read: its source and its bytes.
func (lr *listenerReader) datagram(int) (netip.AddrPort, []byte, bool) {
	return lr.from, (*lr.bp)[:lr.n], true
}

func (lr *listenerReader) release() { lr.pool.Put(lr.bp) }

// replyState is a session's reply path: the reply read and not yet sent.
type replyState struct {
	rbuf *[]byte
	rn   int
	rerr error
	rfn  func(fd uintptr) bool
}

// sendReplies sends the reply readReplies read to the client, from the
// listening socket, unless it is over MaxDatagram.
func (s *session) sendReplies() {
	bp, n := s.rbuf, s.rn
	s.rbuf = nil
	defer s.r.pool.Put(bp)
	if n > s.r.cfg.MaxDatagram {
		s.r.c.oversize.Add(1)
		return
	}
	_, err := s.r.ln.WriteToUDPAddrPort((*bp)[:n], s.client)
	switch {
	case err == nil:
		s.replied(1, n)
	case isFull(err):
		s.r.c.full.Add(1)
	default:
		// The client's side is gone or unreachable; the listener is
		// shared, so never give up on it here.
		s.r.c.other.Add(1)
	}
}
