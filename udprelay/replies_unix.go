//go:build unix && !linux

package udprelay

import "syscall"

func (s *session) initReplies() { s.rfn = s.readFD }

// readReplies waits for a reply on bc without holding a buffer: an idle
// session costs its socket and goroutine, no memory from the pool. Only when
// the socket is readable does it take a pooled buffer and read into it.
func (s *session) readReplies(bc *backendConn) error {
	s.rbuf, s.rn, s.rerr = nil, 0, nil
	if err := bc.raw.Read(s.rfn); err != nil {
		return err
	}
	return s.rerr
}

// readFD is the RawConn.Read callback (stored once in s.rfn, so calling it
// does not allocate). It returns false to wait for readability again.
func (s *session) readFD(fd uintptr) bool {
	bp := s.r.pool.Get().(*[]byte)
	for {
		n, err := syscall.Read(int(fd), *bp)
		switch err {
		case nil:
			s.rbuf, s.rn = bp, n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			s.r.pool.Put(bp)
			return false
		default:
			s.r.pool.Put(bp)
			s.rerr = err
			return true
		}
	}
}
