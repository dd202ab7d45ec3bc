package upstream

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"strings"
	"testing"
	"time"
)

func TestRoundRobinAndFailover(t *testing.T) {
	a, b, dead := listen(t, "a"), listen(t, "b"), deadAddr(t)
	var dialErrors counter
	pools := NewPools([]Config{{Name: "pool", Addresses: []string{a, dead, b}, ConnectTimeout: time.Second}}, nil,
		Hooks{DialErrors: func(name string) Counter {
			if name != "pool" {
				t.Errorf("counter asked for %q", name)
			}
			return &dialErrors
		}}, nil)
	bk := pools["pool"]
	count := map[string]int{}
	for range 12 {
		name, s, c := who(t, bk)
		c.Close()
		s.Release()
		count[name]++
	}
	if count["a"] != 6 || count["b"] != 6 {
		t.Fatalf("round robin over a, dead, b: %v, want 6 each", count)
	}
	st := bk.State().Servers
	if st[1].Up || !strings.Contains(st[1].LastError, "refused") || !st[0].Up || !st[2].Up {
		t.Fatalf("the dead server should be down with its error, the others up: %+v", st)
	}
	if n := dialErrors.n.Load(); n != 1 {
		t.Fatalf("dial errors %d, want 1: a down server is skipped while others are up", n)
	}
}

func TestAllDownStillTried(t *testing.T) {
	dead := deadAddr(t)
	bk := New(Config{Name: "p", Addresses: []string{dead}, ConnectTimeout: time.Second})
	_, _, err := bk.Dial(context.Background())
	if !errors.Is(err, ErrNoBackend) || !strings.Contains(err.Error(), dead) {
		t.Fatalf("dial to a dead address: %v, want ErrNoBackend naming %s", err, dead)
	}
	if bk.Servers()[0].Up() {
		t.Fatal("a failed dial should mark the server down")
	}
	// The server comes back: with every server down, it is still tried,
	// and a success marks it up at once.
	ln, err := net.Listen("tcp", dead)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", dead, err)
	}
	defer ln.Close()
	c, s, err := bk.Dial(context.Background())
	if err != nil {
		t.Fatalf("all down: the server should still be tried: %v", err)
	}
	if s.Active() != 1 {
		t.Fatalf("active %d after a dial, want 1", s.Active())
	}
	c.Close()
	s.Release()
	if !bk.Servers()[0].Up() || s.Active() != 0 {
		t.Fatalf("a successful dial should mark the server up (up %v, active %d)", s.Up(), s.Active())
	}
}

// TestDialCanceled: a dial the caller gives up is not the server's fault.
func TestDialCanceled(t *testing.T) {
	var dialErrors counter
	bk := NewPools([]Config{{Name: "p", Addresses: []string{deadAddr(t)}}}, nil,
		Hooks{DialErrors: func(string) Counter { return &dialErrors }}, nil)["p"]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := bk.Dial(ctx); !errors.Is(err, ErrNoBackend) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled dial: %v", err)
	}
	if !bk.Servers()[0].Up() || dialErrors.n.Load() != 0 {
		t.Fatalf("a canceled dial marked the server down or counted (%d)", dialErrors.n.Load())
	}
}

func TestPassiveBackoffDoubles(t *testing.T) {
	s := NewServer("127.0.0.1:1")
	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute} {
		s.Failed(io.EOF, false)
		if s.penalty != want {
			t.Fatalf("failure %d: down for %v, want %v", i+1, s.penalty, want)
		}
	}
	if s.Up() || s.State().DownUntil.IsZero() || s.State().LastError != io.EOF.Error() {
		t.Fatalf("a failed server should be down with its error: %+v", s.State())
	}
	s.Succeeded()
	if !s.Up() || s.penalty != 0 {
		t.Fatal("success should reset the penalty")
	}
}

func TestLeastConn(t *testing.T) {
	a, b := listen(t, "a"), listen(t, "b")
	bk := New(Config{Name: "pool", Addresses: []string{a, b}, ConnectTimeout: time.Second, Balance: BalanceLeastConn})
	var open []net.Conn
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	// Three long connections land a, b, a (ties follow the rotation) ...
	for range 3 {
		_, _, c := who(t, bk)
		open = append(open, c)
	}
	sa, sb := bk.Servers()[0], bk.Servers()[1]
	if sa.Active() != 2 || sb.Active() != 1 {
		t.Fatalf("active a=%d b=%d, want 2 and 1", sa.Active(), sb.Active())
	}
	// ... b has fewer: the next one goes to b whatever the rotation says.
	name, _, c := who(t, bk)
	open = append(open, c)
	if name != "b" || sa.Active() != 2 || sb.Active() != 2 {
		t.Fatalf("least_conn chose %s: a=%d b=%d", name, sa.Active(), sb.Active())
	}
}

// TestCandidatesCounterWraps: the round-robin position wraps around
// without a negative index (int is 32 bits on 386 and arm).
func TestCandidatesCounterWraps(t *testing.T) {
	bk := New(Config{Name: "p", Addresses: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}})
	bk.next.Store(math.MaxUint64)
	for range 4 {
		if got := bk.Candidates(); len(got) != 3 {
			t.Fatalf("candidates %v", got)
		}
	}
}

func TestCandidatesDownLast(t *testing.T) {
	bk := New(Config{Name: "p", Addresses: []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}})
	bk.Servers()[0].Failed(io.EOF, false)
	for range 4 {
		c := bk.Candidates()
		if c[2] != bk.Servers()[0] {
			t.Fatalf("the down server is not last: %s %s %s", c[0].Addr(), c[1].Addr(), c[2].Addr())
		}
	}
}

func TestNewPoolsKeepsServers(t *testing.T) {
	old := NewPools([]Config{{Name: "p", Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}}}, nil, Hooks{}, nil)
	old["p"].Servers()[1].Failed(io.EOF, false)
	next := NewPools([]Config{{Name: "p", Addresses: []string{"127.0.0.1:2", "127.0.0.1:3"}}, {Name: "q", Addresses: []string{"127.0.0.1:2"}}}, old, Hooks{}, nil)
	if next["p"].Servers()[0] != old["p"].Servers()[1] || next["p"].Servers()[0].Up() {
		t.Fatal("a kept address lost its server and health")
	}
	if next["q"].Servers()[0] == old["p"].Servers()[1] {
		t.Fatal("another backend's server was taken over")
	}
}

func TestState(t *testing.T) {
	bk := New(Config{Name: "p", Addresses: []string{"127.0.0.1:1"}, TLS: true,
		HealthCheck: &HealthCheck{Interval: 2 * time.Second}})
	bk.Servers()[0].SetTLSStatus("trusted")
	st := bk.State()
	if st.Name != "p" || st.Balance != BalanceRoundRobin || st.HealthCheck != "tcp every 2s" || !st.TLS ||
		len(st.Servers) != 1 || st.Servers[0].LastTLSStatus != "trusted" || !st.Servers[0].Up {
		t.Fatalf("state %+v", st)
	}
	if echo := New(Config{Name: "e", Builtin: "echo"}); !echo.Echo() || echo.State().Balance != "" {
		t.Fatalf("echo state %+v", echo.State())
	}
}

func TestServerAddrs(t *testing.T) {
	for _, tc := range []struct {
		addr       string
		host       string
		resolvable bool
		addrs      int
	}{
		{"127.0.0.1:1", "", true, 1},
		{"[::ffff:127.0.0.1]:1", "", true, 1},
		{"localhost:1", "localhost", true, 0},
		{"localhost:echo", "", false, 0},
	} {
		s := NewServer(tc.addr)
		if s.Host() != tc.host || s.Resolvable() != tc.resolvable || len(s.Addrs()) != tc.addrs {
			t.Errorf("%s: host %q resolvable %v addrs %v", tc.addr, s.Host(), s.Resolvable(), s.Addrs())
		}
	}
	if a := NewServer("[::ffff:127.0.0.1]:1").Addrs()[0]; !a.Addr().Is4() {
		t.Errorf("a mapped literal is not unmapped: %v", a)
	}
}
