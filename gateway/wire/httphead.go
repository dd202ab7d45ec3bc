package wire

import "bytes"

// HeadEnd returns the length of the HTTP request head in b (through the
// empty line that ends it, "\r\n\r\n" or a bare "\n\n"), or -1 while it is
// incomplete. The caller bounds how far it reads.
func HeadEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
}
