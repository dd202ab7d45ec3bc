//go:build !unix

package udprelay

// read takes a pooled buffer and blocks in Read with it.
func (s *session) read(bc *backendConn) (*[]byte, int, error) {
	bp := s.r.pool.Get().(*[]byte)
	n, err := bc.conn.Read(*bp)
	if err != nil {
		s.r.pool.Put(bp)
		return nil, 0, err
	}
	return bp, n, nil
}
