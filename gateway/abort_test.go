package gateway

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/stream"
)

// TestAbortWhileDescriptorsReused: connections aborted from another
// goroutine (as a shutdown or a ban does: on the event loops, through the
// loop's task queue) while new connections are accepted at once and take
// the descriptor numbers the aborted ones free. Every new connection is
// still relayed: nothing is stranded on a reused number, and no late abort
// or event for an old connection reaches a new one.
func TestAbortWhileDescriptorsReused(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: []string{backend}}}
	cfg.Listeners = []*config.Listener{testListener("bin", "", "b")}
	gw, _, _ := startGateway(t, cfg, func(g *Gateway) {
		if testEngine == "loop" {
			g.loopCount = 1 // every connection, old and new, on one loop
		}
	})
	addr := gw.Addr("bin")
	const rounds, k = 8, 24
	tracked := func() []*conn {
		gw.mu.Lock()
		defer gw.mu.Unlock()
		hs := make([]*conn, 0, len(gw.conns))
		for h := range gw.conns {
			hs = append(hs, h)
		}
		return hs
	}
	var old []*net.TCPConn
	for i := range k {
		c := dial(t, addr)
		if err := echoMsg(c, fmt.Sprintf("first %d", i)); err != nil {
			t.Fatal(err)
		}
		old = append(old, c)
	}
	for r := range rounds {
		doomed := tracked() // exactly the old connections: all echoed
		if len(doomed) != k {
			t.Fatalf("round %d: %d connections tracked, want %d", r, len(doomed), k)
		}
		var wg sync.WaitGroup
		wg.Go(func() {
			for _, h := range doomed {
				h.shutdown(stream.ReasonShutdown)
			}
		})
		fresh := make([]*net.TCPConn, k)
		errs := make(chan error, k)
		for i := range k {
			wg.Go(func() {
				c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
				if err != nil {
					errs <- err
					return
				}
				fresh[i] = c.(*net.TCPConn)
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if err := echoMsg(c, fmt.Sprintf("round %d conn %d", r, i)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for _, c := range fresh {
			if c != nil {
				t.Cleanup(func() { c.Close() })
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		// Every aborted connection is closed for its client.
		for i, c := range old {
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || stream.IsTimeout(err) {
				t.Fatalf("round %d: aborted connection %d still open: %d %v", r, i, n, err)
			}
			c.Close()
		}
		waitFor(t, func() bool { return len(tracked()) == k }, "only the new connections tracked")
		old = fresh
	}
	// The last ones still relay, and are all the gateway holds.
	for i, c := range old {
		if err := echoMsg(c, fmt.Sprintf("last %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := gw.status().Listeners[0].Active; got != k {
		t.Fatalf("%d active connections, want %d", got, k)
	}
}

// echoMsg sends msg on c and reads it back.
func echoMsg(c net.Conn, msg string) error {
	if _, err := c.Write([]byte(msg)); err != nil {
		return fmt.Errorf("%s: %w", msg, err)
	}
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || string(back) != msg {
		return fmt.Errorf("%s: echo %q: %v", msg, back, err)
	}
	return nil
}
