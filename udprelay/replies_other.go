//go:build !unix

package udprelay

func (s *session) initReplies() {}

// readReplies takes a pooled buffer and blocks in Read with it.
func (s *session) readReplies(bc *backendConn) error {
	bp := s.r.pool.Get().(*[]byte)
	n, err := bc.conn.Read(*bp)
	if err != nil {
		s.r.pool.Put(bp)
		return err
	}
	s.rbuf, s.rn = bp, n
	return nil
}
