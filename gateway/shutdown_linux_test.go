package gateway

import (
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
)

// TestShutdownTimeoutBoundsDials: a connection whose backend dial hangs (a
// backend that never accepts, with a long connect_timeout) must not hold
// Run past shutdown_timeout. Run returning before connect_timeout proves
// the dial was cancelled rather than left to time out.
func TestShutdownTimeoutBoundsDials(t *testing.T) {
	for _, mode := range []struct {
		name  string
		loops int
	}{{"goroutines", -1}, {"event loops", 1}} {
		t.Run(mode.name, func(t *testing.T) {
			backend := fullBacklogListener(t)
			const connectTimeout = 8 * time.Second // under startGateway's 10 s stop bound
			cfg := testConfig()
			cfg.ShutdownTimeout = 300 * time.Millisecond
			cfg.Backends = []*config.Backend{{Name: "stuck", Address: []string{backend}, ConnectTimeout: connectTimeout}}
			cfg.Listeners = []*config.Listener{testListener("game", "", "stuck")}
			gw, _, stop := startGateway(t, cfg, func(g *Gateway) { g.loopCount = mode.loops })
			c := dial(t, gw.Addr("game"))
			if _, err := c.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			// Wait until the gateway holds the connection (its dial starts
			// right after accept: the listener is transparent).
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				gw.mu.Lock()
				n := len(gw.conns)
				gw.mu.Unlock()
				if n > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the gateway never took the connection")
				}
			}
			start := time.Now()
			stop()
			if took := time.Since(start); took >= connectTimeout {
				t.Fatalf("Run returned after %v: the dial outlived shutdown_timeout (connect_timeout %v)", took, connectTimeout)
			}
		})
	}
}
