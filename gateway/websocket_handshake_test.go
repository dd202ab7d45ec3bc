package gateway

import (
	"bufio"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestWebSocketBadHandshakeDialsNothing: an upgrade with an allowed Origin
// but a bad Sec-WebSocket-Version or key gets 400, and the backend is never
// dialed (nor sent a PROXY header).
func TestWebSocketBadHandshakeDialsNothing(t *testing.T) {
	var accepts atomic.Int32
	backend := startBackend(t, func(c *net.TCPConn) { accepts.Add(1) })
	gw, _, stop := startGateway(t, httpConfig(backend))
	for name, hdr := range map[string]string{
		"version 8": "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
		"short key": "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: c2hvcnQ=\r\n",
		"no key":    "Sec-WebSocket-Version: 13\r\n",
	} {
		c := dial(t, gw.Addr("mux"))
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		req := "GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://127.0.0.1\r\n" +
			"Connection: Upgrade\r\nUpgrade: websocket\r\n" + hdr + "\r\n"
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %v %v, want 400", name, resp, err)
		}
		c.Close()
	}
	stop()
	if n := accepts.Load(); n != 0 {
		t.Fatalf("the backend was dialed %d times for refused handshakes", n)
	}
}
