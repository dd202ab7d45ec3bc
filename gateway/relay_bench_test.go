package gateway

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/stream"
)

// The relay benchmarks move 64 KiB writes one way over loopback; compare
// BenchmarkRelayThroughput with BenchmarkDirectLoopback from the same run
// for the relay's cost (a ratio; absolute numbers depend on the machine).

const benchChunk = 64 << 10

func sink(t testing.TB) (addr string, done chan int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done = make(chan int64, 1)
	go func() {
		defer ln.Close()
		c, err := ln.Accept()
		if err != nil {
			done <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	return ln.Addr().String(), done
}

func pump(b *testing.B, c net.Conn) {
	buf := make([]byte, benchChunk)
	b.SetBytes(benchChunk)
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
}

func BenchmarkDirectLoopback(b *testing.B) {
	addr, done := sink(b)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	pump(b, c)
	<-done
}

func BenchmarkRelayThroughput(b *testing.B) {
	addr, done := sink(b)
	server, client := tcpPair(b)
	bc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	relayed := make(chan stream.Result, 1)
	go func() { relayed <- runRelay(server, nil, bc, time.Minute) }()
	pump(b, client)
	<-done
	res := <-relayed
	b.ReportMetric(float64(res.Spliced)/float64(max(res.Up, 1)), "spliced-fraction")
}

// BenchmarkRelayPingPong measures small-message round trips through the
// relay: the game-traffic case, where the buffer path is used.
func BenchmarkRelayPingPong(b *testing.B) {
	backend := startEchoForBench(b)
	server, client := tcpPair(b)
	bc, err := net.Dial("tcp", backend)
	if err != nil {
		b.Fatal(err)
	}
	go runRelay(server, nil, bc, time.Minute)
	msg := make([]byte, 64)
	back := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := client.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(client, back); err != nil {
			b.Fatal(err)
		}
	}
	client.Close()
}

func startEchoForBench(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkIOCopyRelay is the reference: a bare io.Copy relay, which splices
// through Go's own pipe pool.
func BenchmarkIOCopyRelay(b *testing.B) {
	addr, done := sink(b)
	server, client := tcpPair(b)
	bc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		io.Copy(bc, server)
		bc.(*net.TCPConn).CloseWrite()
	}()
	pump(b, client)
	<-done
}
