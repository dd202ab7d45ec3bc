package gateway

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkConnRate measures the whole connection path: accept, sniff, dial
// the backend, relay a 16-byte echo, close both sides. Compare with
// BenchmarkConnRateDirect from the same run.
func BenchmarkConnRate(b *testing.B) {
	backend := startEchoForBench(b)
	cfg := testConfig()
	cfg.Backends = []*BackendConfig{{Name: "echo", Address: []string{backend}, ConnectTimeout: time.Second}}
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
	benchConnRate(b, gw.Addr("bin").String())
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
