package gateway

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsDial opens a WebSocket to the gateway's "mux" listener with origin.
func wsDial(t *testing.T, gw *Gateway, path, origin string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.HTTPHeader = http.Header{}
	if origin != "" {
		opts.HTTPHeader.Set("Origin", origin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws://"+gw.Addr("mux").String()+path, opts)
	if c != nil {
		c.SetReadLimit(-1)
		t.Cleanup(func() { c.CloseNow() })
	}
	return c, resp, err
}

func wsRead(t *testing.T, c *websocket.Conn) (websocket.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, b
}

func TestWebSocketBinaryEchoThroughXMLBackend(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := httpConfig(backend)
	cfg.Listeners[0].MaxMessage = 2 << 20
	gw, logs, stop := startGateway(t, cfg)
	c, resp, err := wsDial(t, gw, "/chat", "http://127.0.0.1:1234", &websocket.DialOptions{
		CompressionMode: websocket.CompressionContextTakeover, // offered, must be declined
	})
	if err != nil {
		t.Fatal(err)
	}
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Errorf("permessage-deflate not declined: %q", ext)
	}
	if p := c.Subprotocol(); p != "" {
		t.Errorf("subprotocol %q, want none", p)
	}
	ctx := context.Background()

	t.Run("binary echo", func(t *testing.T) {
		c.Write(ctx, websocket.MessageBinary, []byte("<hello/>\x00"))
		typ, b := wsRead(t, c)
		if typ != websocket.MessageBinary || string(b) != "<hello/>\x00" {
			t.Errorf("got %v %q", typ, b)
		}
	})
	t.Run("text in, binary out", func(t *testing.T) {
		c.Write(ctx, websocket.MessageText, []byte("<text/>\x00"))
		typ, b := wsRead(t, c)
		if typ != websocket.MessageBinary || string(b) != "<text/>\x00" {
			t.Errorf("got %v %q; the gateway must send binary frames only", typ, b)
		}
	})
	t.Run("two messages in one frame come back as two", func(t *testing.T) {
		c.Write(ctx, websocket.MessageBinary, []byte("<a/>\x00<b/>\x00"))
		for _, want := range []string{"<a/>\x00", "<b/>\x00"} {
			if _, b := wsRead(t, c); string(b) != want {
				t.Errorf("got %q, want %q", b, want)
			}
		}
	})
	t.Run("fragmented message", func(t *testing.T) {
		w, err := c.Writer(ctx, websocket.MessageBinary)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{"<frag", "mented>", "</fragmented>\x00"} {
			w.Write([]byte(part))
		}
		w.Close()
		if _, b := wsRead(t, c); string(b) != "<fragmented></fragmented>\x00" {
			t.Errorf("got %q", b)
		}
	})
	t.Run("1 MiB message", func(t *testing.T) {
		msg := append(bytes.Repeat([]byte("x"), 1<<20), 0)
		go c.Write(ctx, websocket.MessageBinary, msg)
		typ, b := wsRead(t, c)
		if typ != websocket.MessageBinary || !bytes.Equal(b, msg) {
			t.Errorf("got %v, %d bytes, want %d", typ, len(b), len(msg))
		}
	})
	c.Close(websocket.StatusNormalClosure, "")
	stop()
	log := logs.String()
	if !strings.Contains(log, `"http":"websocket /chat"`) || !strings.Contains(log, `"msgs_up":6`) {
		t.Errorf("summary:\n%s", log)
	}
}

func TestWebSocketOriginDenied(t *testing.T) {
	var accepts atomic.Int32
	backend := startBackend(t, func(c *net.TCPConn) { accepts.Add(1) })
	gw, logs, stop := startGateway(t, httpConfig(backend))
	for _, origin := range []string{"http://localhost:8000", "", "null", "http://127.0.0.1.evil.example"} {
		_, resp, err := wsDial(t, gw, "/chat", origin, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("origin %q: err %v, resp %v; want 403", origin, err, resp)
		}
	}
	// Allowed spellings of the permitted host.
	for _, origin := range []string{"http://127.0.0.1", "HTTP://127.0.0.1.:8080", "http://[::ffff:127.0.0.1]"} {
		c, _, err := wsDial(t, gw, "/chat", origin, nil)
		if err != nil {
			t.Errorf("origin %q refused: %v", origin, err)
			continue
		}
		c.Close(websocket.StatusNormalClosure, "")
	}
	stop()
	// The backend counts an accept on its own goroutine, which may run
	// after stop: wait for the three allowed ones, then check no more came.
	waitFor(t, func() bool { return accepts.Load() >= 3 }, "the allowed upgrades reached the backend")
	if n := accepts.Load(); n != 3 {
		t.Errorf("backend accepted %d connections, want 3 (only the allowed ones)", n)
	}
	if !strings.Contains(logs.String(), `denied`) || !strings.Contains(logs.String(), `"status":403`) {
		t.Errorf("denial not logged:\n%s", logs.String())
	}
}

func TestWebSocketBackendCloseAndBinaryProtocol(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) {
		c.Write([]byte("greeting"))
		buf := make([]byte, 5)
		io.ReadFull(c, buf)
		c.Write(buf)
	})
	cfg := httpConfig(backend)
	cfg.Listeners[0].WebSockets[0].Protocol = "binary"
	gw, _, _ := startGateway(t, cfg)
	c, _, err := wsDial(t, gw, "/chat", "http://127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, b := wsRead(t, c); string(b) != "greeting" {
		t.Errorf("got %q", b)
	}
	c.Write(context.Background(), websocket.MessageBinary, []byte("12345"))
	if _, b := wsRead(t, c); string(b) != "12345" {
		t.Errorf("got %q", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, err = c.Read(ctx)
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Errorf("close status %v (%v), want 1001 backend closed", code, err)
	}
}

func TestWebSocketBackendUnreachable(t *testing.T) {
	gw, _, _ := startGateway(t, httpConfig("127.0.0.1:1"))
	_, resp, err := wsDial(t, gw, "/chat", "http://127.0.0.1", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadGateway {
		t.Errorf("err %v, resp %v; want 502", err, resp)
	}
}

func TestWebSocketLineBackend(t *testing.T) {
	backend := startBackend(t, lineBackend)
	cfg := httpConfig(backend)
	cfg.Backends[0].Framing = "line"
	gw, _, _ := startGateway(t, cfg)
	c, _, err := wsDial(t, gw, "/chat", "http://127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(context.Background(), websocket.MessageBinary, []byte("<hi/>\x00"))
	if _, b := wsRead(t, c); string(b) != "echo: <hi/>\x00" {
		t.Errorf("got %q", b)
	}
}

func TestWebSocketIdleTimeout(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := httpConfig(backend)
	cfg.Listeners[0].IdleTimeout = 300 * time.Millisecond
	gw, logs, stop := startGateway(t, cfg)
	c, _, err := wsDial(t, gw, "/chat", "http://127.0.0.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if _, _, err := c.Read(ctx); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("idle connection: %v after %v", err, time.Since(start))
	}
	stop()
	if !strings.Contains(logs.String(), `"reason":"idle timeout"`) {
		t.Errorf("log:\n%s", logs.String())
	}
}
