package gateway

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/rs/zerolog"
)

// BenchmarkConnRate measures the whole connection path: accept, sniff, dial
// the backend, relay a 16-byte echo, close both sides. Compare with
// BenchmarkConnRateDirect from the same run.
func BenchmarkConnRate(b *testing.B) {
	benchConnRate(b, benchEchoGateway(b))
}

// benchEchoGateway runs a gateway, silent, with a transparent listener in
// front of an echo backend until the benchmark ends; it returns the
// listener's address.
func benchEchoGateway(b *testing.B) string {
	backend := startEchoForBench(b)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{backend}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*config.Listener{testListener("bin", "", "echo")}
	gw, err := New(cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	if err := gw.Listen(ctx); err != nil {
		b.Fatal(err)
	}
	go gw.Run(ctx)
	return gw.Addr("bin").String()
}

// BenchmarkConnRateDirect is the same loop straight to the echo backend.
func BenchmarkConnRateDirect(b *testing.B) {
	benchConnRate(b, startEchoForBench(b))
}

func benchConnRate(b *testing.B, addr string) {
	msg := []byte("0123456789abcdef")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		back := make([]byte, len(msg))
		for pb.Next() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			c.Write(msg)
			if _, err := io.ReadFull(c, back); err != nil {
				b.Error(err)
			}
			c.Close()
		}
	})
}
