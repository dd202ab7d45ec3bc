//go:build linux

package gateway

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/stream"
)

// heapInUse reads the live heap after two collections.
func heapInUse() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestIdleRelaysHoldNoBuffer: relayed connections on the goroutine relay
// (event loops off), once idle, hold no pooled buffer; the heap they hold
// is reported per connection.
func TestIdleRelaysHoldNoBuffer(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{backend}}}
	cfg.Listeners = []*config.Listener{testListener("bin", "games", "echo")}
	gw, _, _ := startGateway(t, cfg, func(g *Gateway) { g.loopCount = -1 })
	const n = 100
	before := heapInUse()
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		c := dial(t, gw.Addr("bin"))
		echoOnce(t, c, "hello, relay")
		conns[i] = c
	}
	waitFor(t, func() bool { return stream.LentBuffers() == 0 }, "no pooled buffer lent out")
	per := (int64(heapInUse()) - int64(before)) / n
	t.Logf("heap per idle relayed connection (client, relay, backend echo): %d bytes", per)
	if per > 8<<10 {
		t.Errorf("%d bytes of heap per idle relayed connection: buffers are held", per)
	}
	for _, c := range conns {
		echoOnce(t, c, "again")
	}
}

// TestClientResetWhileBackendStalled: a client that pushed data at a
// backend that never reads and then reset is noticed by the goroutine relay:
// the connection ends and the backend socket is closed, long before the
// idle timeout.
func TestClientResetWhileBackendStalled(t *testing.T) {
	accepted := make(chan *net.TCPConn, 1)
	release := make(chan struct{})
	backend := startBackend(t, func(c *net.TCPConn) {
		accepted <- c
		<-release // never reads
	})
	t.Cleanup(func() { close(release) })
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "stall", Address: []string{backend}}}
	l := testListener("bin", "", "stall")
	l.IdleTimeout = 10 * time.Minute
	cfg.Listeners = []*config.Listener{l}
	gw, logs, _ := startGateway(t, cfg, func(g *Gateway) { g.loopCount = -1 })
	c := dial(t, gw.Addr("bin"))
	bc := <-accepted
	t.Cleanup(func() { bc.Close() })
	pushUntilStalled(t, c)
	_ = c.SetLinger(0)
	c.Close()
	waitFor(t, func() bool { return gw.status().Listeners[0].Active == 0 }, "the relay ended")
	summaryWith(t, logs, `"reason":"client error"`)
	backendClosed(t, bc)
}

// pushUntilStalled writes to c until a write blocks for a while: the
// backend behind it does not read.
func pushUntilStalled(t *testing.T, c net.Conn) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for i := 0; i < 4096; i++ {
		_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		if _, err := c.Write(buf); err != nil {
			if stream.IsTimeout(err) {
				return
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the writes never stalled")
}

// backendClosed drains bc until the gateway's close shows (bounded).
func backendClosed(t *testing.T, bc *net.TCPConn) {
	t.Helper()
	_ = bc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, bc); err != nil && !stream.IsExpectedEnd(err) {
		t.Fatalf("the backend socket was not closed: %v", err)
	}
}

// TestWebSocketUnfinishedMessageHoldsNoBuffer: connections that sent part
// of a message and wait for the rest hold no pooled buffer.
func TestWebSocketUnfinishedMessageHoldsNoBuffer(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	cfg := httpConfig(backend)
	cfg.Listeners[0].WebSockets[0].Protocol = "binary"
	gw, _, _ := startGateway(t, cfg)
	const n = 50
	before := heapInUse()
	var ws []io.WriteCloser
	for range n {
		c, _, err := wsDial(t, gw, "/chat", "http://127.0.0.1", nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := c.Writer(context.Background(), websocket.MessageBinary)
		if err != nil {
			t.Fatal(err)
		}
		// Part of a message: the library flushes what fills its buffer
		// and keeps the message open.
		if _, err := w.Write(make([]byte, 5000)); err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	waitFor(t, func() bool { return gw.status().Listeners[0].Active == n }, "every bridge running")
	waitFor(t, func() bool { return stream.LentBuffers() == 0 }, "no pooled buffer lent out")
	per := (int64(heapInUse()) - int64(before)) / n
	t.Logf("heap per WebSocket waiting for the rest of a message (both ends in this process): %d bytes", per)
	for _, w := range ws {
		w.Close()
	}
}
