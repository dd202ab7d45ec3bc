package upstream

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// listen starts a loopback server that writes name to every connection and
// then holds it until the client closes.
func listen(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.Write([]byte(name))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// deadAddr returns a loopback address nothing listens on (free a moment ago).
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// who dials b and returns the name its server wrote, with the server.
func who(t *testing.T, b *Backend) (string, *Server, net.Conn) {
	t.Helper()
	c, s, err := b.Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf), s, c
}

// counter counts Inc calls.
type counter struct{ n atomic.Int64 }

func (c *counter) Inc() { c.n.Add(1) }

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
