//go:build linux

package gateway

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

// TestIdleTLSRelaysHoldNoBuffer: TLS-terminated clients relayed to a plain
// backend, once idle, hold no pooled buffer (the relay reads TLS into a
// small per-direction array first); the heap they hold is reported per
// connection.
func TestIdleTLSRelaysHoldNoBuffer(t *testing.T) {
	cfg, clientTLS := tlsListenerConfig(t)
	backend := startBackend(t, echoHandler)
	cfg.Backends = []*config.Backend{{Name: "plain", Address: []string{backend}}}
	cfg.Listeners[0].Backend = "plain"
	cfg.Listeners[0].WebSockets = nil
	gw, _, _ := startGateway(t, cfg)
	const n = 50
	before := heapInUse()
	conns := make([]*tls.Conn, n)
	for i := range conns {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", gw.Addr("chat").String(), clientTLS)
		if err != nil {
			t.Fatalf("TLS handshake with the gateway: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		echoOnce(t, c, "hello over TLS")
		conns[i] = c
	}
	waitFor(t, func() bool { return gw.status().Listeners[0].Active == n }, "every relay running")
	waitFor(t, func() bool { return stream.LentBuffers() == 0 }, "no pooled buffer lent out")
	per := (int64(heapInUse()) - int64(before)) / n
	t.Logf("heap per idle TLS-terminated relay (TLS client, relay, backend echo, all in this process): %d bytes", per)
	for _, c := range conns {
		echoOnce(t, c, "again")
	}
}

// TestWebSocketXMLTLSBackendIdleHoldsNoBuffer: WebSocket bridges with
// protocol xml to a TLS backend, once idle, hold no pooled buffer: the
// backend→client direction reads the TLS backend into a small array before
// it borrows one.
func TestWebSocketXMLTLSBackendIdleHoldsNoBuffer(t *testing.T) {
	ca := tlstest.NewCert(t, "Backend Root", true, nil)
	leaf := tlstest.NewCert(t, "game.internal", false, ca, tlstest.DNSNames("game.internal"))
	caFile := tlstest.WriteCA(t, t.TempDir(), ca)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{tlstest.TLSCert(leaf, ca)}})
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
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	cfg := httpConfig(ln.Addr().String())
	cfg.Backends[0].TLS = &config.BackendTLS{ServerName: "game.internal", CAFile: caFile, Require: "trusted", Revocation: "off"}
	gw, _, _ := startGateway(t, cfg)
	const n = 30
	for range n {
		c, _, err := wsDial(t, gw, "/chat", "http://127.0.0.1", nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = c.Write(ctx, websocket.MessageBinary, []byte("<hi/>\x00"))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if _, got := wsRead(t, c); string(got) != "<hi/>\x00" {
			t.Fatalf("echo: %q", got)
		}
	}
	waitFor(t, func() bool { return gw.status().Listeners[0].Active == n }, "every bridge running")
	waitFor(t, func() bool { return stream.LentBuffers() == 0 }, "no pooled buffer lent out")
}
