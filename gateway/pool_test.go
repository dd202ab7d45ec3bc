package gateway

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
)

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	return freePort(t)
}

// namedBackend answers every connection with its name and closes.
func namedBackend(t *testing.T, name string) string {
	return startBackend(t, func(c *net.TCPConn) { c.Write([]byte(name)) })
}

func whoAnswers(t *testing.T, gw *Gateway, listener string) string {
	t.Helper()
	c := dial(t, gw.Addr(listener))
	b, _ := io.ReadAll(c)
	c.Close()
	return string(b)
}

func TestPoolRoundRobinAndFailover(t *testing.T) {
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	dead := deadAddr(t)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "pool", Address: []string{a, dead, b}, ConnectTimeout: time.Second}}
	l := testListener("game", "", "pool")
	l.SniffTimeout = 20 * time.Millisecond // silent clients: the backend speaks first
	cfg.Listeners = []*config.Listener{l}
	gw, _, _ := startGateway(t, cfg)
	count := map[string]int{}
	for range 12 {
		who := whoAnswers(t, gw, "game")
		if who == "" {
			t.Fatal("a connection was not served: failover did not happen")
		}
		count[who]++
	}
	if count["a"] != 6 || count["b"] != 6 {
		t.Fatalf("round robin over a, dead, b: %v, want 6 each", count)
	}
	st := gw.status().Backends[0].Servers
	if st[1].Up || st[1].LastError == "" || st[0].Up != true || st[2].Up != true {
		t.Fatalf("the dead server should be down with its error, the others up: %+v", st)
	}
	if n := counterValue(gw.metrics.dialErrors.WithLabelValues("pool")); n != 1 {
		t.Fatalf("dial errors %d, want 1: a down server is skipped while others are up", n)
	}
}

func TestPoolLeastConn(t *testing.T) {
	mk := func(name string) string {
		return startBackend(t, func(c *net.TCPConn) {
			c.Write([]byte(name))
			io.Copy(io.Discard, c) // hold the connection until the client closes
		})
	}
	a, b := mk("a"), mk("b")
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "pool", Address: []string{a, b}, ConnectTimeout: time.Second, Balance: balanceLeastConn}}
	l := testListener("game", "", "pool")
	l.SniffTimeout = 20 * time.Millisecond
	cfg.Listeners = []*config.Listener{l}
	gw, _, _ := startGateway(t, cfg)
	// Three long connections land a, b, a (ties follow the rotation) ...
	var open []*net.TCPConn
	for range 3 {
		c := dial(t, gw.Addr("game"))
		io.ReadFull(c, make([]byte, 1))
		open = append(open, c)
	}
	pool := gw.gen.Load().pools["pool"]
	waitFor(t, func() bool { return pool.servers[0].active.Load()+pool.servers[1].active.Load() == 3 }, "3 active")
	if pool.servers[0].active.Load() != 2 || pool.servers[1].active.Load() != 1 {
		t.Fatalf("active a=%d b=%d, want 2 and 1", pool.servers[0].active.Load(), pool.servers[1].active.Load())
	}
	// b has fewer: the next one goes to b whatever the rotation says.
	for range 2 {
		c := dial(t, gw.Addr("game"))
		who := make([]byte, 1)
		io.ReadFull(c, who)
		open = append(open, c)
		waitFor(t, func() bool {
			return pool.servers[0].active.Load()+pool.servers[1].active.Load() == int64(len(open))
		}, "counted")
	}
	if d := pool.servers[0].active.Load() - pool.servers[1].active.Load(); d < -1 || d > 1 {
		t.Fatalf("least_conn left a=%d b=%d unbalanced", pool.servers[0].active.Load(), pool.servers[1].active.Load())
	}
	for _, c := range open {
		c.Close()
	}
	waitFor(t, func() bool { return pool.servers[0].active.Load()+pool.servers[1].active.Load() == 0 }, "released")
}

func TestActiveHealthCheck(t *testing.T) {
	a := namedBackend(t, "a")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bAddr := ln.Addr().String()
	ln.Close() // b is down at first
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "pool", Address: []string{a, bAddr}, ConnectTimeout: time.Second,
		HealthCheck: &config.HealthCheck{Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond}}}
	l := testListener("game", "", "pool")
	l.SniffTimeout = 20 * time.Millisecond
	cfg.Listeners = []*config.Listener{l}
	gw, _, _ := startGateway(t, cfg)
	servers := func() []serverStatus { return gw.status().Backends[0].Servers }
	waitFor(t, func() bool { s := servers(); return s[0].Up && !s[1].Up }, "b marked down by the check")
	// Every connection goes to a without a failed dial.
	for range 4 {
		if who := whoAnswers(t, gw, "game"); who != "a" {
			t.Fatalf("served by %q, want a", who)
		}
	}
	if n := counterValue(gw.metrics.dialErrors.WithLabelValues("pool")); n != 0 {
		t.Fatalf("dial errors %d: the checked-down server should not be dialed", n)
	}
	// b comes up: the check notices.
	ln2, err := net.Listen("tcp", bAddr)
	if err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	defer ln2.Close()
	waitFor(t, func() bool { return servers()[1].Up }, "b marked up by the check")
}
