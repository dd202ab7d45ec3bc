//go:build linux

package gateway

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIdleRelaysHoldNoGoroutines opens relayed connections on a
// gateway without event loops (the goroutine path), lets them go idle, and
// checks that their directions are parked (no goroutine each),
// that every one still echoes afterwards, and that closing them reports
// each connection once.
func TestIdleRelaysHoldNoGoroutines(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*BackendConfig{{Name: "echo", Address: []string{backend}}}
	cfg.Listeners = []*ListenerConfig{testListener("bin", "games", "echo")}
	gw, logs, stop := startGateway(t, cfg, noLoops)
	if gw.parker == nil {
		t.Fatal("the gateway runs without a parker")
	}
	const n = 200
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		c := dial(t, gw.Addr("bin"))
		msg := fmt.Sprintf("hello %03d", i)
		c.Write([]byte(msg))
		if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
			t.Fatalf("conn %d: %v", i, err)
		}
		conns[i] = c
	}
	waitFor(t, func() bool { return gw.parker.parkedCount() == 2*n }, "every direction parked")
	// The echo backend holds a goroutine per connection; the gateway must
	// hold none: allow a small constant on top of the backend's n.
	if g := runtime.NumGoroutine(); g > n+50 {
		t.Fatalf("%d goroutines with %d idle relayed connections: directions are not parked", g, n)
	}
	for i, c := range conns {
		msg := fmt.Sprintf("again %03d", i)
		c.Write([]byte(msg))
		back := make([]byte, len(msg))
		if _, err := io.ReadFull(c, back); err != nil || string(back) != msg {
			t.Fatalf("conn %d after parking: %q %v", i, back, err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, func() bool { return gw.parker.parkedCount() == 0 }, "parked directions ended")
	stop()
	if got := strings.Count(logs.String(), `"message":"connection closed"`); got != n {
		t.Fatalf("%d summary lines for %d connections", got, n)
	}
}

// TestParkedRelayHalfClose: the client half-closes while the backend keeps
// talking; the parked backend direction still delivers and ends cleanly.
func TestParkedRelayHalfClose(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) {
		io.Copy(io.Discard, c) // wait for the client's EOF
		time.Sleep(50 * time.Millisecond)
		c.Write([]byte("late reply"))
		c.CloseWrite()
	})
	cfg := testConfig()
	cfg.Backends = []*BackendConfig{{Name: "b", Address: []string{backend}}}
	cfg.Listeners = []*ListenerConfig{testListener("bin", "", "b")}
	gw, _, _ := startGateway(t, cfg, noLoops)
	c := dial(t, gw.Addr("bin"))
	c.Write([]byte("request"))
	time.Sleep(50 * time.Millisecond) // both directions park
	c.CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "late reply" {
		t.Fatalf("after half-close: %q %v", got, err)
	}
}

// TestParkedRelaysShutdown: connections whose directions are parked (on the
// goroutine path) are closed at shutdown_timeout and Run returns.
func TestParkedRelaysShutdown(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.ShutdownTimeout = 100 * time.Millisecond
	cfg.Backends = []*BackendConfig{{Name: "echo", Address: []string{backend}}}
	cfg.Listeners = []*ListenerConfig{testListener("bin", "games", "echo")}
	gw, logs, stop := startGateway(t, cfg, noLoops)
	for range 10 {
		c := dial(t, gw.Addr("bin"))
		c.Write([]byte("x"))
		io.ReadFull(c, make([]byte, 1))
	}
	waitFor(t, func() bool { return gw.parker.parkedCount() == 20 }, "parked")
	stop() // fails the test if Run does not return
	if got := strings.Count(logs.String(), `"reason":"shutdown"`); got != 10 {
		t.Fatalf("%d connections closed with reason shutdown, want 10:\n%s", got, logs)
	}
}

// TestIdleXMLRelaysPark: XMLSocket connections (protocol xml) park too, and
// still frame, count and enforce max_message after parking.
func TestIdleXMLRelaysPark(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*BackendConfig{{Name: "echo", Address: []string{backend}, Framing: "nul"}}
	l := testListener("xml", "", "echo")
	l.Protocol, l.MaxMessage = "xml", 64
	cfg.Listeners = []*ListenerConfig{l}
	gw, logs, stop := startGateway(t, cfg, noLoops)
	const n = 20
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		c := dial(t, gw.Addr("xml"))
		msg := fmt.Sprintf("<m n=\"%d\"/>\x00", i)
		c.Write([]byte(msg))
		if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	waitFor(t, func() bool { return gw.parker.parkedCount() == 2*n }, "xml directions parked")
	// After parking: a message is still framed and echoed...
	msg := []byte("<again/>\x00")
	conns[0].Write(msg)
	if _, err := io.ReadFull(conns[0], make([]byte, len(msg))); err != nil {
		t.Fatal(err)
	}
	// ...and one over max_message closes that connection only.
	conns[1].Write([]byte("<big>" + strings.Repeat("x", 100)))
	if rest, _ := io.ReadAll(conns[1]); len(rest) != 0 {
		t.Fatalf("over max_message: got %q", rest)
	}
	conns[2].Write(msg)
	if _, err := io.ReadFull(conns[2], make([]byte, len(msg))); err != nil {
		t.Fatalf("a neighbour of the oversized connection: %v", err)
	}
	for _, c := range conns {
		c.Close()
	}
	stop()
	out := logs.String()
	if !strings.Contains(out, `"reason":"client message over max_message"`) {
		t.Errorf("no max_message reason:\n%s", out)
	}
	if !strings.Contains(out, `"msgs_up":2,"msgs_down":2`) {
		t.Errorf("message counts missing for the connection that sent two messages:\n%s", out)
	}
}

// TestSplicePipesExpire: pipes pooled by bulk transfers are closed once the
// pool has not used them for pipeIdle, so a quiet gateway holds none.
func TestSplicePipesExpire(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	server, client := tcpPair(t)
	bc, err := net.Dial("tcp", backend)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		client.Write(make([]byte, 4<<20))
		client.CloseWrite()
		io.Copy(io.Discard, client)
	}()
	if res := runRelay(server, nil, bc, time.Minute); res.Spliced == 0 {
		t.Fatal("nothing spliced: no pipe was used")
	}
	if pooledPipes() == 0 {
		t.Fatal("no pipe went back to the pool")
	}
	waitFor(t, func() bool { return pooledPipes() == 0 }, "pooled pipes closed after pipeIdle")
}

// noLoops keeps a gateway's connections on the goroutine path, whose
// parking these tests watch.
func noLoops(g *Gateway) { g.loopCount = -1 }
