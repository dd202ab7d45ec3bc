//go:build linux

package gateway

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/stream"
)

// wsRawDial upgrades a raw TCP connection to path by hand, so the test can
// write frames into a stalled socket and reset it (a WebSocket library
// closes its connection when a write's context expires).
func wsRawDial(t *testing.T, addr net.Addr, path string) *net.TCPConn {
	t.Helper()
	c := dial(t, addr)
	req := "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://127.0.0.1\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 1), nil) // reads no further than the head
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c
}

// maskedFrame is one client binary frame carrying payload, masked with the
// all-zero key (valid, and the payload stays as it is).
func maskedFrame(payload []byte) []byte {
	n := len(payload)
	f := []byte{0x82, 0x80 | 126, byte(n >> 8), byte(n), 0, 0, 0, 0}
	return append(f, payload...)
}

// TestWebSocketClientResetWhileBackendStalled: clients that pushed binary
// messages at a backend that never reads, until their own writes blocked,
// then reset, end their bridges, and their backend connections are closed,
// long before the idle timeout.
func TestWebSocketClientResetWhileBackendStalled(t *testing.T) {
	for _, proto := range []string{"binary", "xml"} {
		t.Run(proto, func(t *testing.T) {
			accepted := make(chan *net.TCPConn, 4)
			release := make(chan struct{})
			backend := startBackend(t, func(c *net.TCPConn) {
				accepted <- c
				<-release // never reads
			})
			t.Cleanup(func() { close(release) })
			cfg := httpConfig(backend)
			cfg.Listeners[0].WebSockets[0].Protocol = proto
			cfg.Listeners[0].IdleTimeout = 10 * time.Minute
			cfg.Listeners[0].MaxMessage = 1 << 30
			gw, logs, _ := startGateway(t, cfg)
			const n = 3
			payload := maskedFrame(bytes.Repeat([]byte("<m/>\x00"), 16000/5))
			var bcs []*net.TCPConn
			for range n {
				c := wsRawDial(t, gw.Addr("mux"), "/chat")
				bc := <-accepted
				t.Cleanup(func() { bc.Close() })
				bcs = append(bcs, bc)
				stalled := false
				for i := 0; i < 100000 && !stalled; i++ {
					_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
					if _, err := c.Write(payload); err != nil {
						if !stream.IsTimeout(err) {
							t.Fatal(err)
						}
						stalled = true
					}
				}
				if !stalled {
					t.Fatal("the writes never stalled")
				}
				_ = c.SetLinger(0)
				c.Close()
			}
			waitFor(t, func() bool { return gw.status().Listeners[0].Active == 0 }, "every bridge ended")
			summaryWith(t, logs, `"reason":"client error"`)
			for _, bc := range bcs {
				backendClosed(t, bc)
			}
		})
	}
}
