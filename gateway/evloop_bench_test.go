//go:build linux

package gateway

import (
	"io"
	"net"
	"testing"
)

// BenchmarkEventedPingPong: 64-byte messages echoed through a transparent
// listener, relayed by an event loop. allocs/op covers the loop and the
// test's client (which allocates nothing per message); compare with
// BenchmarkRelayPingPong (the goroutine relay) from the same run.
func BenchmarkEventedPingPong(b *testing.B) {
	c, err := net.Dial("tcp", benchEchoGateway(b))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg, back := make([]byte, 64), make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, back); err != nil {
			b.Fatal(err)
		}
	}
}
