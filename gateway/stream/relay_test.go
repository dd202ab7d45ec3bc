package stream

import (
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns both ends of one loopback TCP connection.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.DialTCP("tcp", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client
}

// echoBackend serves an echo on loopback and returns its address.
func echoBackend(t *testing.T) string {
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
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestRelayPingPongAllocatesNothing: a small message relayed there and
// back allocates nothing in the relay (the wait for readability peeks
// without a heap-allocated source address; see peekbyte_linux.go).
func TestRelayPingPongAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race (sync.Pool drops items on purpose)")
	}
	server, client := tcpPair(t)
	bc, err := net.Dial("tcp", echoBackend(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Result, 1)
	go func() { done <- Relay(server, nil, bc, Options{Idle: time.Minute}) }()
	msg, back := make([]byte, 64), make([]byte, 64)
	_ = client.SetDeadline(time.Now().Add(30 * time.Second))
	pingPong := func() {
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(client, back); err != nil {
			t.Fatal(err)
		}
	}
	pingPong() // warm up: pools, poller registration
	allocs := testing.AllocsPerRun(500, pingPong)
	t.Logf("allocations per relayed ping-pong: %.2f", allocs)
	if allocs >= 1 {
		t.Errorf("%.2f allocations per relayed ping-pong, want 0", allocs)
	}
	client.Close()
	if res := <-done; res.Up != res.Down || res.Up != 64*502 {
		t.Errorf("relayed %d up, %d down; want %d each", res.Up, res.Down, 64*502)
	}
}
