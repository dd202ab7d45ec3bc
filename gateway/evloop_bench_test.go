//go:build linux

package gateway

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/rs/zerolog"
)

// BenchmarkEventedPingPong: 64-byte messages echoed through a transparent
// listener, relayed by an event loop. allocs/op covers the loop and the
// test's client (which allocates nothing per message); compare with
// BenchmarkRelayPingPong (the goroutine relay) from the same run.
func BenchmarkEventedPingPong(b *testing.B) {
	backend := startEchoForBench(b)
	cfg := testConfig()
	cfg.Backends = []*BackendConfig{{Name: "echo", Address: []string{backend}}}
	cfg.Listeners = []*ListenerConfig{testListener("bin", "", "echo")}
	gw, err := New(cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := gw.Listen(ctx); err != nil {
		b.Fatal(err)
	}
	go gw.Run(ctx)
	c, err := net.Dial("tcp", gw.Addr("bin").String())
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
