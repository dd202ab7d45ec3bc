package wire

import (
	"bytes"
	"testing"
)

func TestHeadEnd(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"GET / HTTP/1.1\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY", 27},
		{"GET / HTTP/1.1\nHost: a\n\n", 24},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n\n", 26},
		{"", -1},
		{"\n\n", 2},
		{"\r\n\r\n", 4},
	}
	for _, tt := range tests {
		if got := HeadEnd([]byte(tt.in)); got != tt.want {
			t.Errorf("HeadEnd(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// FuzzHeadEnd: HeadEnd never panics, returns -1 or a length within b that
// ends in an empty line, and decides on the first empty line only: bytes
// after the head change nothing, and no shorter prefix is a whole head.
func FuzzHeadEnd(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody"))
	f.Add([]byte("GET / HTTP/1.1\nHost: a\n\n"))
	f.Add([]byte("\r\n\r"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := HeadEnd(b)
		if n == -1 {
			if bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\n\r\n")) {
				t.Fatalf("%q: an empty line, but incomplete", b)
			}
			return
		}
		if n < 2 || n > len(b) || b[n-1] != '\n' {
			t.Fatalf("%q: head of %d bytes", b, n)
		}
		if !bytes.HasSuffix(b[:n], []byte("\n\n")) && !bytes.HasSuffix(b[:n], []byte("\n\r\n")) {
			t.Fatalf("%q: head %q does not end in an empty line", b, b[:n])
		}
		if m := HeadEnd(append(b[:n:n], "\r\n\r\nmore"...)); m != n {
			t.Fatalf("%q: trailing bytes moved the end from %d to %d", b, n, m)
		}
		if m := HeadEnd(b[:n-1]); m != -1 {
			t.Fatalf("%q: prefix of %d bytes is a head of %d", b, n-1, m)
		}
	})
}

func TestHeadEndAllocatesNothing(t *testing.T) {
	b := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() { _ = HeadEnd(b) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}
