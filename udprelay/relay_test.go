package udprelay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// startEcho runs a UDP echo backend on addr until the test ends.
func startEcho(t testing.TB, addr string) string {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return c.LocalAddr().String()
}

// deadAddr is a loopback UDP address with nothing listening on it.
func deadAddr(t testing.TB) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	a := c.LocalAddr().String()
	c.Close()
	return a
}

// logBuf is a goroutine-safe log sink.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startRelay builds and serves a relay until the test ends.
func startRelay(t testing.TB, cfg Config) (*Relay, *logBuf) {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	lb := &logBuf{}
	r, err := New(cfg, zerolog.New(lb).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.Serve(context.Background()) }()
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return r, lb
}

func dialClient(t testing.TB, addr net.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, addr.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends p and waits for one reply; ok is false on timeout.
func roundTrip(t testing.TB, c *net.UDPConn, p []byte, wait time.Duration) ([]byte, bool) {
	t.Helper()
	if _, err := c.Write(p); err != nil {
		t.Fatalf("write: %v", err)
	}
	return readReply(t, c, wait)
}

func readReply(t testing.TB, c *net.UDPConn, wait time.Duration) ([]byte, bool) {
	t.Helper()
	buf := make([]byte, 70000)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	n, err := c.Read(buf)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, false
		}
		t.Fatalf("read: %v", err)
	}
	return buf[:n], true
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testManyClients(t *testing.T, loopback string) {
	echo := startEcho(t, loopback+":0")
	r, _ := startRelay(t, Config{Listen: loopback + ":0", Backends: []string{echo}})
	const clients, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		c := dialClient(t, r.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 100)
			for j := range each {
				msg := fmt.Sprintf("client %d datagram %d", i, j)
				if _, err := c.Write([]byte(msg)); err != nil {
					errs <- err
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					errs <- fmt.Errorf("client %d: %w", i, err)
					return
				}
				if got := string(buf[:n]); got != msg {
					errs <- fmt.Errorf("client %d got %q, want %q", i, got, msg)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A reply is counted after its send returns, so the client may hold
	// the last one a moment before the counter moves.
	waitFor(t, "every reply counted", 5*time.Second, func() bool { return r.Stats().DatagramsOut == clients*each })
	st := r.Stats()
	if st.SessionsTotal != clients || st.SessionsActive != clients {
		t.Errorf("sessions total %d active %d, want %d", st.SessionsTotal, st.SessionsActive, clients)
	}
	if st.DatagramsIn != clients*each || st.DatagramsOut != clients*each {
		t.Errorf("datagrams in %d out %d, want %d", st.DatagramsIn, st.DatagramsOut, clients*each)
	}
	ss := r.Sessions()
	if len(ss) != clients {
		t.Fatalf("Sessions() has %d, want %d", len(ss), clients)
	}
	for _, s := range ss {
		if s.DatagramsIn != each || s.DatagramsOut != each || s.Backend != echo {
			t.Errorf("session %+v", s)
		}
	}
}

func TestManyClientsIPv4(t *testing.T) { testManyClients(t, "127.0.0.1") }
func TestManyClientsIPv6(t *testing.T) { testManyClients(t, "[::1]") }

func TestOversizeDroppedNextPasses(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	r, _ := startRelay(t, Config{Backends: []string{echo}, MaxDatagram: 100})
	c := dialClient(t, r.Addr())
	if _, ok := roundTrip(t, c, bytes.Repeat([]byte("x"), 101), 200*time.Millisecond); ok {
		t.Fatal("101-byte datagram was relayed with MaxDatagram 100")
	}
	if _, ok := roundTrip(t, c, bytes.Repeat([]byte("x"), 5000), 200*time.Millisecond); ok {
		t.Fatal("5000-byte datagram was relayed with MaxDatagram 100")
	}
	p := bytes.Repeat([]byte("y"), 100)
	got, ok := roundTrip(t, c, p, 2*time.Second)
	if !ok || !bytes.Equal(got, p) {
		t.Fatalf("100-byte datagram: ok=%v got %d bytes", ok, len(got))
	}
	// A datagram is counted after its send returns: the echo may be back first.
	waitFor(t, "the relayed datagram counted", 5*time.Second, func() bool { return r.Stats().DatagramsIn >= 1 })
	if st := r.Stats(); st.DropsOversize != 2 || st.DatagramsIn != 1 {
		t.Errorf("oversize %d in %d, want 2 and 1", st.DropsOversize, st.DatagramsIn)
	}
}

// A burst is read and answered in batches (recvmmsg/sendmmsg on Linux):
// every datagram, empty ones too, still arrives once and in order, and one
// over MaxDatagram
// in the middle of a batch, either way, is dropped alone.
func TestBurstInBatches(t *testing.T) {
	back, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	go func() { // echo, but answer "B…" with a reply too big to relay
		buf := make([]byte, 2048)
		for {
			n, from, err := back.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			reply := buf[:n]
			if n > 0 && buf[0] == 'B' {
				reply = bytes.Repeat([]byte("B"), 150)
			}
			_, _ = back.WriteToUDPAddrPort(reply, from)
		}
	}()
	r, _ := startRelay(t, Config{Backends: []string{back.LocalAddr().String()}, MaxDatagram: 100})
	c := dialClient(t, r.Addr())
	const total = 60
	var want []string
	for i := range total {
		p := []byte(fmt.Sprintf("m%03d", i))
		switch i {
		case 5:
			p = nil // an empty datagram is a datagram too
			want = append(want, "")
		case 17:
			p = bytes.Repeat([]byte("x"), 101) // over MaxDatagram from the client
		case 33:
			p = []byte("B033") // over MaxDatagram from the backend
		default:
			want = append(want, string(p))
		}
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < len(want) {
		p, ok := readReply(t, c, 2*time.Second)
		if !ok {
			break
		}
		got = append(got, string(p))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("replies\n got %v\nwant %v", got, want)
	}
	if p, ok := readReply(t, c, 100*time.Millisecond); ok {
		t.Fatalf("an extra reply %q", p)
	}
	waitFor(t, "the drops counted", 5*time.Second, func() bool { return r.Stats().DropsOversize == 2 })
	if st := r.Stats(); st.DatagramsIn != total-1 || st.DatagramsOut != total-2 {
		t.Errorf("in %d out %d, want %d and %d", st.DatagramsIn, st.DatagramsOut, total-1, total-2)
	}
}

// On a dual-stack listener an IPv4 client is a v4-mapped address, as the
// net package reports it, and its replies find it.
func TestDualStackIPv4Client(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	r, _ := startRelay(t, Config{Listen: "[::]:0", Backends: []string{echo}})
	port := r.Addr().(*net.UDPAddr).Port
	c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		t.Skipf("IPv4 to a dual-stack socket: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if got, ok := roundTrip(t, c, []byte("hello"), 2*time.Second); !ok || string(got) != "hello" {
		t.Fatalf("reply %q ok=%v", got, ok)
	}
	local := c.LocalAddr().(*net.UDPAddr).AddrPort()
	want := netip.AddrPortFrom(netip.AddrFrom16(local.Addr().As16()), local.Port())
	if ss := r.Sessions(); len(ss) != 1 || ss[0].Client != want {
		t.Fatalf("sessions %+v, want one for %s", ss, want)
	}
}

func TestIdleExpiry(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	r, lb := startRelay(t, Config{Backends: []string{echo}, IdleTimeout: 100 * time.Millisecond})
	c := dialClient(t, r.Addr())
	if _, ok := roundTrip(t, c, []byte("hello"), 2*time.Second); !ok {
		t.Fatal("no reply")
	}
	if n := r.Stats().SessionsActive; n != 1 {
		t.Fatalf("active %d, want 1", n)
	}
	start := time.Now()
	waitFor(t, "idle expiry", 2*time.Second, func() bool { return r.Stats().SessionsActive == 0 })
	if el := time.Since(start); el < 50*time.Millisecond {
		t.Errorf("expired after %s, before the idle timeout", el)
	}
	waitFor(t, "log line", time.Second, func() bool { return strings.Contains(lb.String(), "udp session end") })
	line := lb.String()
	for _, want := range []string{`"reason":"idle"`, `"datagrams_up":1`, `"datagrams_down":1`, `"bytes_up":5`, `"client":"127.0.0.1:`, `"backend":"` + echo, `"duration_s":`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %s: %s", want, line)
		}
	}
	if n := strings.Count(line, "\n"); n != 1 {
		t.Errorf("%d log lines, want 1: %s", n, line)
	}
	if len(r.Sessions()) != 0 {
		t.Error("expired session still listed")
	}
	// The client comes back: a new session.
	if _, ok := roundTrip(t, c, []byte("again"), 2*time.Second); !ok {
		t.Fatal("no reply after expiry")
	}
	if st := r.Stats(); st.SessionsTotal != 2 || st.SessionsActive != 1 {
		t.Errorf("total %d active %d, want 2 and 1", st.SessionsTotal, st.SessionsActive)
	}
}

func TestSessionCap(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	r, _ := startRelay(t, Config{Backends: []string{echo}, MaxSessions: 2})
	a, b, c := dialClient(t, r.Addr()), dialClient(t, r.Addr()), dialClient(t, r.Addr())
	for _, cl := range []*net.UDPConn{a, b} {
		if _, ok := roundTrip(t, cl, []byte("in"), 2*time.Second); !ok {
			t.Fatal("no reply within the cap")
		}
	}
	for range 3 {
		if _, ok := roundTrip(t, c, []byte("over"), 100*time.Millisecond); ok {
			t.Fatal("third client relayed beyond MaxSessions 2")
		}
	}
	if _, ok := roundTrip(t, a, []byte("still"), 2*time.Second); !ok {
		t.Fatal("existing session stopped working at the cap")
	}
	st := r.Stats()
	if st.SessionsRefused != 3 || st.SessionsActive != 2 || st.SessionsTotal != 2 {
		t.Errorf("refused %d active %d total %d, want 3, 2, 2", st.SessionsRefused, st.SessionsActive, st.SessionsTotal)
	}
}

func TestBackendDown(t *testing.T) {
	r, _ := startRelay(t, Config{Backends: []string{deadAddr(t)}})
	a := dialClient(t, r.Addr())
	for range 5 {
		if _, ok := roundTrip(t, a, []byte("anyone?"), 50*time.Millisecond); ok {
			t.Fatal("reply from a dead backend")
		}
	}
	waitFor(t, "backend errors", 2*time.Second, func() bool { return r.Stats().DropsBackendError >= 2 })
	// The listener and the session's goroutine survive: more clients get sessions.
	for range 3 {
		c := dialClient(t, r.Addr())
		if _, err := c.Write([]byte("me too")); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "new sessions", 2*time.Second, func() bool { return r.Stats().SessionsTotal == 4 })
	if n := r.Stats().SessionsActive; n != 4 {
		t.Errorf("active %d, want 4 (ECONNREFUSED must not end sessions)", n)
	}
}

func TestBackendFailover(t *testing.T) {
	dead, echo := deadAddr(t), startEcho(t, "127.0.0.1:0")
	r, lb := startRelay(t, Config{Backends: []string{dead, echo}})
	a := dialClient(t, r.Addr())
	var got bool
	for i := 0; i < 20 && !got; i++ {
		_, got = roundTrip(t, a, []byte("ping"), 100*time.Millisecond)
	}
	if !got {
		t.Fatal("no reply after failing over to the second backend")
	}
	st := r.Stats()
	if st.DropsBackendError < 1 || st.BackendFailovers != 1 {
		t.Errorf("backend errors %d failovers %d", st.DropsBackendError, st.BackendFailovers)
	}
	// New clients start on the backend that works.
	b := dialClient(t, r.Addr())
	if _, ok := roundTrip(t, b, []byte("hi"), 2*time.Second); !ok {
		t.Fatal("new client not on the working backend")
	}
	if ss := r.Sessions(); len(ss) != 2 || ss[0].Backend != echo || ss[1].Backend != echo {
		t.Errorf("sessions %+v", ss)
	}
	if !strings.Contains(lb.String(), "moving to next") {
		t.Errorf("no failover log line: %s", lb.String())
	}
}

func TestServeStopsOnContext(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	r, err := New(Config{Listen: "127.0.0.1:0", Backends: []string{echo}}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- r.Serve(ctx) }()
	c := dialClient(t, r.Addr())
	if _, ok := roundTrip(t, c, []byte("x"), 2*time.Second); !ok {
		t.Fatal("no reply")
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if n := r.Stats().SessionsActive; n != 0 {
		t.Errorf("active %d after Serve returned", n)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Serve(context.Background()); !errors.Is(err, ErrServing) {
		t.Errorf("second Serve: %v", err)
	}
}

func TestNewWithConnKeepsSocket(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	ln, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	c := dialClient(t, ln.LocalAddr())
	for gen := range 2 {
		r, err := NewWithConn(Config{Name: "reload", Backends: []string{echo}}, ln, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- r.Serve(context.Background()) }()
		msg := []byte(fmt.Sprintf("generation %d", gen))
		if got, ok := roundTrip(t, c, msg, 2*time.Second); !ok || !bytes.Equal(got, msg) {
			t.Fatalf("generation %d: ok=%v got %q", gen, ok, got)
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Listen: "127.0.0.1:0"},
		{Listen: "127.0.0.1:0", Backends: []string{"127.0.0.1:1"}, MaxDatagram: 70000},
		{Listen: "127.0.0.1:0", Backends: []string{"127.0.0.1:1"}, MaxSessions: -1},
		{Listen: "127.0.0.1:0", Backends: []string{"127.0.0.1:1"}, IdleTimeout: -time.Second},
		{Listen: "127.0.0.1:0", Backends: []string{"no port"}},
		{Listen: "not an address", Backends: []string{"127.0.0.1:1"}},
	} {
		if r, err := New(cfg, zerolog.Nop()); err == nil {
			r.Close()
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestNoLeaks(t *testing.T) {
	echo := startEcho(t, "127.0.0.1:0")
	dead := deadAddr(t)
	runtime.GC()
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)

	for round := range 2 {
		backends := []string{echo}
		if round == 1 {
			backends = []string{dead, echo}
		}
		r, err := New(Config{Name: "leak", Listen: "127.0.0.1:0", Backends: backends, IdleTimeout: 50 * time.Millisecond}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- r.Serve(context.Background()) }()
		var clients []*net.UDPConn
		for range 20 {
			c, err := net.DialUDP("udp", nil, r.Addr().(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
			for range 3 {
				_, _ = c.Write([]byte("leak?"))
			}
		}
		waitFor(t, "sessions", 2*time.Second, func() bool { return r.Stats().SessionsTotal >= 20 })
		if round == 0 {
			// let some expire, then some more traffic
			time.Sleep(150 * time.Millisecond)
			for _, c := range clients[:10] {
				_, _ = c.Write([]byte("back"))
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		for _, c := range clients {
			c.Close()
		}
		if n := r.Stats().SessionsActive; n != 0 {
			t.Errorf("round %d: %d sessions active after Close", round, n)
		}
	}
	waitFor(t, "goroutines back to baseline", 2*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines })
	waitFor(t, "fds back to baseline", 2*time.Second, func() bool { return openFDs(t) <= fds })
}
