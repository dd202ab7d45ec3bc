//go:build linux

package gateway

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/evloop"
	"github.com/flashgate/flashgate/gateway/wire"
)

// eventedGateway starts a gateway with one transparent listener "bin" in
// front of backend addresses, and checks its route is evented.
func eventedGateway(t *testing.T, adjust func(*config.Config), backends ...string) (*Gateway, *syncBuffer, func()) {
	t.Helper()
	onlyEngine(t, "loop", "it tests the event loops") // main_test.go
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: backends}}
	cfg.Listeners = []*config.Listener{testListener("bin", "", "b")}
	if adjust != nil {
		adjust(cfg)
	}
	gw, logs, stop := startGateway(t, cfg, hostsOnly)
	if gw.loops == nil {
		t.Fatal("the gateway runs without event loops")
	}
	if rt := gw.listeners[0].route.Load(); !rt.evented() {
		t.Fatal("a transparent listener to an IP literal is not evented")
	}
	return gw, logs, stop
}

func echoOnce(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || string(back) != msg {
		t.Fatalf("echo: %q %v", back, err)
	}
}

// TestRouteEvented: which routes the event loops take.
func TestRouteEvented(t *testing.T) {
	lit := &backend{cfg: &config.Backend{Name: "b"}, servers: []*server{newServer("127.0.0.1:1"), newServer("[::1]:2")}}
	named := &backend{cfg: &config.Backend{Name: "n"}, servers: []*server{newServer("localhost:1")}}
	pp := &backend{cfg: &config.Backend{Name: "p", ProxyProtocol: "v1"}, servers: lit.servers}
	echo := &backend{cfg: &config.Backend{Name: "e", Builtin: "echo"}}
	bin := &config.Listener{Protocol: "binary"}
	for _, tc := range []struct {
		name string
		rt   *route
		want bool
	}{
		{"transparent to IP literals", &route{cfg: bin, backend: lit}, true},
		{"host name (resolved in the background)", &route{cfg: bin, backend: named}, true},
		{"host name with a service-name port", &route{cfg: bin, backend: &backend{cfg: &config.Backend{Name: "s"}, servers: []*server{newServer("localhost:echo")}}}, false},
		{"PROXY header to the backend", &route{cfg: bin, backend: pp}, true},
		{"PROXY header from the client", &route{cfg: &config.Listener{Protocol: "binary", ProxyProtocol: "v2"}, backend: lit}, true},
		{"builtin echo", &route{cfg: bin, backend: echo}, false},
		{"policy and backend (sniffed in the loop)", &route{cfg: bin, backend: lit, policyAnswer: []byte("x")}, true},
		{"policy server", &route{cfg: bin, policyAnswer: []byte("x")}, true},
		{"policy and a host-name backend", &route{cfg: bin, backend: named, policyAnswer: []byte("x")}, true},
		{"xml framing", &route{cfg: &config.Listener{Protocol: "xml"}, backend: lit}, true},
		{"websocket paths (handed over after sniffing)", &route{cfg: &config.Listener{Protocol: "binary", WebSockets: []*config.WebSocket{{Path: "/"}}}, backend: lit}, true},
	} {
		if got := tc.rt.evented(); got != tc.want {
			t.Errorf("%s: evented %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestEventedIdleRelays: idle evented connections hold no goroutine, still
// echo later, and each is reported once with kind raw.
func TestEventedIdleRelays(t *testing.T) {
	backend := startBackend(t, echoHandler)
	gw, logs, stop := eventedGateway(t, nil, backend)
	const n = 200
	base := runtime.NumGoroutine()
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		conns[i] = dial(t, gw.Addr("bin"))
		echoOnce(t, conns[i], fmt.Sprintf("hello %03d", i))
	}
	if got := gw.loops.Open(); got != n {
		t.Fatalf("loops hold %d connections, want %d", got, n)
	}
	// The echo backend holds a goroutine per connection, the test's
	// clients none; the gateway must add none per connection.
	if g := runtime.NumGoroutine(); g > base+n+20 {
		t.Fatalf("%d goroutines (%d before) with %d idle evented connections", g, base, n)
	}
	for i, c := range conns {
		echoOnce(t, c, fmt.Sprintf("again %03d", i))
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, func() bool { return gw.loops.Open() == 0 }, "evented connections ended")
	stop()
	out := logs.String()
	if got := strings.Count(out, `"kind":"raw"`); got != n {
		t.Fatalf("%d raw summary lines for %d connections", got, n)
	}
	if got := strings.Count(out, `"bytes_up":18,"bytes_down":18`); got != n {
		t.Fatalf("%d summary lines with 18 bytes each way, want %d:\n%s", got, n, out[:min(len(out), 2000)])
	}
	if !strings.Contains(out, `"backend":"`+backend+`"`) {
		t.Fatalf("no backend in the summary lines:\n%s", out[:min(len(out), 2000)])
	}
}

// TestEventedBulk: megabytes both ways at once, with a backend that
// echoes: every byte arrives in order, bulk data is spliced, and the
// backpressure of a full socket stalls nothing.
func TestEventedBulk(t *testing.T) {
	backend := startBackend(t, echoHandler)
	gw, logs, stop := eventedGateway(t, nil, backend)
	const size = 16 << 20
	data := make([]byte, size)
	rand.Read(data)
	c := dial(t, gw.Addr("bin"))
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var got []byte
	var rerr error
	var wg sync.WaitGroup
	wg.Go(func() { got, rerr = io.ReadAll(c) })
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	wg.Wait()
	if rerr != nil || !bytes.Equal(got, data) {
		t.Fatalf("echoed %d of %d bytes intact=%v err=%v", len(got), size, bytes.Equal(got, data), rerr)
	}
	stop()
	if !strings.Contains(logs.String(), fmt.Sprintf(`"bytes_up":%d,"bytes_down":%d`, size, size)) {
		t.Fatalf("summary does not count %d bytes each way:\n%s", size, logs)
	}
}

// TestEventedSplices: bulk data moves by splice(2), not through the buffer;
// the summary line says how much.
func TestEventedSplices(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	gw, logs, stop := eventedGateway(t, nil, backend)
	c := dial(t, gw.Addr("bin"))
	chunk := make([]byte, 1<<20)
	for range 32 {
		if _, err := c.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	waitFor(t, func() bool { return gw.loops.Open() == 0 }, "the relay ended")
	stop()
	m := regexp.MustCompile(`"bytes_up":(\d+),.*"bytes_spliced":(\d+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no bytes_spliced in the summary:\n%s", logs)
	}
	up, _ := strconv.Atoi(m[1])
	spliced, _ := strconv.Atoi(m[2])
	if up != 32<<20 || spliced < up/2 {
		t.Fatalf("%d of %d bytes spliced: bulk data went through the buffer", spliced, up)
	}
	t.Logf("spliced %d of %d bytes", spliced, up)
}

// TestEventedFairness: on a single loop, a connection streaming bulk data
// as fast as the client can write does not starve a chatty neighbour. (A
// loopback writer rarely outpaces splice, so this mostly shows the loop
// interleaves; evBudget is what bounds a turn when the source never runs
// dry, and TestEventedBulk shows a direction stopped at the budget is
// turned again to the last byte.)
func TestEventedFairness(t *testing.T) {
	sink := startBackend(t, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	echo := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "sink", Address: []string{sink}}, {Name: "echo", Address: []string{echo}}}
	cfg.Listeners = []*config.Listener{testListener("bulk", "", "sink"), testListener("chat", "", "echo")}
	gw, _, _ := startGateway(t, cfg, func(g *Gateway) { g.loopCount = 1 })
	bulk := dial(t, gw.Addr("bulk"))
	stop := make(chan struct{})
	var streamed int64
	var wg sync.WaitGroup
	wg.Go(func() {
		chunk := make([]byte, 256<<10)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := bulk.Write(chunk)
			streamed += int64(n)
			if err != nil {
				return
			}
		}
	})
	// On a failure the cleanup's close of bulk ends the writer.
	waitFor(t, func() bool { return gw.loops.Open() == 1 }, "the bulk connection relayed")
	chat := dial(t, gw.Addr("chat"))
	for i := range 50 {
		echoOnce(t, chat, fmt.Sprintf("turn %d", i)) // 10 s deadline each (dial)
	}
	close(stop)
	wg.Wait()
	t.Logf("50 round trips while %d MiB streamed beside them", streamed>>20)
}

// TestEventedHalfClose: the client half-closes, the backend answers after
// it saw the EOF, and the answer still arrives.
func TestEventedHalfClose(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) {
		io.Copy(io.Discard, c)
		time.Sleep(20 * time.Millisecond)
		c.Write([]byte("late reply"))
		c.CloseWrite()
	})
	gw, logs, stop := eventedGateway(t, nil, backend)
	c := dial(t, gw.Addr("bin"))
	c.Write([]byte("request"))
	c.CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "late reply" {
		t.Fatalf("after half-close: %q %v", got, err)
	}
	stop()
	if !strings.Contains(logs.String(), `"reason":"client closed"`) {
		t.Fatalf("reason is not the first side to close:\n%s", logs)
	}
}

// TestEventedBackendSpeaksFirst: a greeting reaches a client that sends
// nothing.
func TestEventedBackendSpeaksFirst(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) {
		c.Write([]byte("220 ready\r\n"))
		io.Copy(c, c)
	})
	gw, _, _ := eventedGateway(t, nil, backend)
	c := dial(t, gw.Addr("bin"))
	line := make([]byte, 11)
	if _, err := io.ReadFull(c, line); err != nil || string(line) != "220 ready\r\n" {
		t.Fatalf("greeting: %q %v", line, err)
	}
}

// TestEventedFailover: a refused server is skipped for the next, counted,
// and marked down; when every server refuses the client is closed with
// reason backend unreachable.
func TestEventedFailover(t *testing.T) {
	dead := deadAddr(t)
	backend := startBackend(t, echoHandler)
	gw, logs, stop := eventedGateway(t, nil, dead, backend)
	for i := range 3 {
		c := dial(t, gw.Addr("bin"))
		echoOnce(t, c, fmt.Sprintf("try %d", i))
		c.Close()
	}
	st := gw.listeners[0].route.Load().backend.servers[0].state()
	if st.Up || !strings.Contains(st.LastError, "refused") {
		t.Fatalf("refusing server state %+v", st)
	}
	stop()
	if strings.Contains(logs.String(), `"backend":"`+dead+`"`) {
		t.Fatalf("a connection was reported on the dead server:\n%s", logs)
	}

	gw2, logs2, stop2 := eventedGateway(t, nil, dead)
	c := dial(t, gw2.Addr("bin"))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("read from an unreachable backend's relay: %d %v", n, err)
	}
	stop2()
	out := logs2.String()
	if !strings.Contains(out, `"reason":"backend unreachable"`) || !strings.Contains(out, "connection refused") {
		t.Fatalf("unreachable backend not reported:\n%s", out)
	}
}

// TestEventedConnectTimeout: a backend whose accept queue is full drops
// SYNs; connect_timeout ends the attempt.
func TestEventedConnectTimeout(t *testing.T) {
	stuck := fullBacklogListener(t)
	start := time.Now()
	gw, logs, stop := eventedGateway(t, func(c *config.Config) { c.Backends[0].ConnectTimeout = 200 * time.Millisecond }, stuck)
	c := dial(t, gw.Addr("bin"))
	c.Write([]byte("x"))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("read: %d %v", n, err)
	}
	stop()
	out := logs.String()
	if !strings.Contains(out, `"reason":"backend unreachable"`) || !strings.Contains(out, "timeout") {
		t.Fatalf("connect timeout not reported:\n%s", out)
	}
	t.Logf("ended after %v", time.Since(start))
}

// TestEventedIdleTimeout: a relay that moves nothing for idle_timeout ends
// with reason idle timeout; one that keeps talking does not. A loaded
// machine may stall the talking client itself for longer than
// idle_timeout; then its end is right too, and the test checks that it
// ended only after such a gap.
func TestEventedIdleTimeout(t *testing.T) {
	const idle = 300 * time.Millisecond
	backend := startBackend(t, echoHandler)
	gw, logs, stop := eventedGateway(t, func(c *config.Config) { c.Listeners[0].IdleTimeout = idle }, backend)
	quiet := dial(t, gw.Addr("bin"))
	prev := time.Now() // busy's last activity is no earlier
	busy := dial(t, gw.Addr("bin"))
	echoOnce(t, quiet, "q")
	// talk echoes msg on busy; gap is the longest the gateway can have seen
	// busy silent before msg came (from before the previous write to after
	// this one). An error means busy was closed.
	talk := func(msg string) (gap time.Duration, err error) {
		before := time.Now()
		if _, err := busy.Write([]byte(msg)); err != nil {
			return time.Since(prev), err
		}
		gap = time.Since(prev)
		prev = before
		back := make([]byte, len(msg))
		if _, err := io.ReadFull(busy, back); err != nil || string(back) != msg {
			return gap, fmt.Errorf("echo %q: %v", back, err)
		}
		return gap, nil
	}
	busyEnded := false
	var longest time.Duration
	for i := range 9 { // 800 ms of traffic, every 100 ms, then one more
		if i > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		gap, err := talk(fmt.Sprintf("b%d", i))
		longest = max(longest, gap)
		if err != nil {
			if longest < idle {
				t.Fatalf("the busy connection ended though it never sat idle for %v (longest gap %v): %v", idle, longest, err)
			}
			t.Logf("the busy connection ended after a %v gap (a stalled client): %v", longest, err)
			busyEnded = true
			break
		}
	}
	busy.Close()
	longest = max(longest, time.Since(prev)) // the gateway may have ended it first
	if n, err := quiet.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("the quiet connection is still open: %d %v", n, err)
	}
	waitFor(t, func() bool { return gw.loops.Open() == 0 }, "the busy connection ended")
	stop()
	if strings.Contains(logs.String(), `"error":"idle timeout"`) {
		t.Fatalf("the error field repeats the reason:\n%s", logs)
	}
	got := strings.Count(logs.String(), `"reason":"idle timeout"`)
	switch {
	case busyEnded && got == 2, got == 1:
	case got == 2 && longest >= idle:
		t.Logf("the busy connection timed out before its close, after a %v gap (a stalled client)", longest)
	default:
		t.Fatalf("%d idle timeouts (busy ended early: %v, longest gap %v), want 1:\n%s", got, busyEnded, longest, logs)
	}
	// An idle timeout is an ordinary end: info, as on the Go path.
	if !regexp.MustCompile(`"level":"info"[^\n]*"reason":"idle timeout"`).MatchString(logs.String()) {
		t.Fatalf("the idle timeout is not logged at info level:\n%s", logs)
	}
}

// TestEventedShutdown: connections still open at shutdown_timeout are
// closed with reason shutdown and Run returns.
func TestEventedShutdown(t *testing.T) {
	backend := startBackend(t, echoHandler)
	gw, logs, stop := eventedGateway(t, func(c *config.Config) { c.ShutdownTimeout = 100 * time.Millisecond }, backend)
	for i := range 10 {
		echoOnce(t, dial(t, gw.Addr("bin")), fmt.Sprint(i))
	}
	stop() // fails the test if Run does not return
	if got := strings.Count(logs.String(), `"reason":"shutdown"`); got != 10 {
		t.Fatalf("%d connections closed with reason shutdown, want 10:\n%s", got, logs)
	}
}

// TestEventedLimits: max_connections and max_connections_per_ip reject
// with a reset on the accept4 path too.
func TestEventedLimits(t *testing.T) {
	backend := startBackend(t, echoHandler)
	gw, _, _ := eventedGateway(t, func(c *config.Config) { c.Listeners[0].MaxConnectionsPerIP = 2 }, backend)
	a, b := dial(t, gw.Addr("bin")), dial(t, gw.Addr("bin"))
	echoOnce(t, a, "a")
	echoOnce(t, b, "b")
	// The reset may come before the dial returns (then the dial fails with
	// it) or after (then the read does).
	c, err := net.DialTimeout("tcp", gw.Addr("bin").String(), 5*time.Second)
	if err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("third connection from one IP: %v, want a reset", err)
	}
	a.Close()
	l := gw.listeners[0]
	waitFor(t, func() bool { // released per IP, not only counted out
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.perIP[netip.MustParseAddr("127.0.0.1")] == 1
	}, "the first connection released")
	echoOnce(t, dial(t, gw.Addr("bin")), "again")
}

// TestEventedIPv6: a [::1] listener relays to a [::1] backend.
func TestEventedIPv6(t *testing.T) {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("SKIP: no IPv6 loopback here: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	gw, logs, stop := eventedGateway(t, func(c *config.Config) { c.Listeners[0].Address = "[::1]:0" }, ln.Addr().String())
	c := dial(t, gw.Addr("bin"))
	echoOnce(t, c, "over IPv6")
	c.Close()
	stop()
	if !strings.Contains(logs.String(), `"client":"[::1]:`) {
		t.Fatalf("client address not IPv6:\n%s", logs)
	}
}

// TestEventedReloadSwitches: a reload that gives an evented listener a
// policy makes its next connections sniffed (policy answered), and back.
func TestEventedReloadSwitches(t *testing.T) {
	backend := startBackend(t, echoHandler)
	gw, _, _ := eventedGateway(t, nil, backend)
	addr := gw.Addr("bin").String()
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: []string{backend}}}
	mux := testListener("bin", "games", "b")
	mux.Address = addr
	cfg.Listeners = []*config.Listener{mux}
	if err := gw.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	c := dial(t, gw.Addr("bin"))
	c.Write([]byte(policyRequest))
	answer, _ := io.ReadAll(c)
	if !bytes.Contains(answer, []byte("cross-domain-policy")) {
		t.Fatalf("after the reload to a policy listener: %q", answer)
	}
	back := testConfig()
	back.Backends = cfg.Backends
	plain := testListener("bin", "", "b")
	plain.Address = addr
	back.Listeners = []*config.Listener{plain}
	if err := gw.Reload(back); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		echoOnce(t, dial(t, gw.Addr("bin")), fmt.Sprintf("<policy-file-request/>%d", i))
	}
	// The first connection after a reload is taken by the accept mode that
	// was waiting (Go's accept here); the next ones by accept4 again.
	waitFor(t, func() bool { return gw.loops.Open() >= 2 }, "connections back on the event loops")
}

// TestEventedChaos: hundreds of concurrent clients on one multiplexed
// evented listener, each ending its own way — echo and close, half-close,
// reset mid-stream, silence then close, policy request, bulk data never
// read back, HTTP (handed over) — and afterwards nothing is left: no
// connection on the loops, none tracked, descriptors back to the baseline,
// and one summary line per connection.
func TestEventedChaos(t *testing.T) {
	onlyEngine(t, "loop", "it tests the event loops")
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: []string{backend}}}
	l := testListener("mux", "games", "b")
	l.SniffTimeout = time.Second // clients delayed by a loaded machine still sniff in time
	cfg.Listeners = []*config.Listener{l}
	gw, logs, stop := startGateway(t, cfg)
	addr := gw.Addr("mux").String()
	fds := func() int {
		ents, _ := os.ReadDir("/proc/self/fd")
		return len(ents)
	}
	// Warm up first: the listener's duplicate for accept4 is made on the
	// first accept.
	warm := dial(t, gw.Addr("mux"))
	echoOnce(t, warm, "\x01warm")
	warm.Close()
	waitFor(t, func() bool { return gw.loops.Open() == 0 }, "the warm-up connection ended")
	base := fds()
	const n = 400
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			tc := c.(*net.TCPConn)
			defer tc.Close()
			_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
			msg := []byte(fmt.Sprintf("\x01client %d says hello", i))
			back := make([]byte, len(msg))
			switch i % 7 {
			case 0: // echo three times, close
				for range 3 {
					tc.Write(msg)
					if _, err := io.ReadFull(tc, back); err != nil {
						errs <- fmt.Errorf("client %d echo: %w", i, err)
						return
					}
				}
			case 1: // half-close, read everything back
				tc.Write(msg)
				tc.CloseWrite()
				if got, err := io.ReadAll(tc); err != nil || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("client %d half-close: %q %v", i, got, err)
				}
			case 2: // reset in the middle of a stream
				tc.Write(bytes.Repeat(msg, 200))
				tc.SetLinger(0)
			case 3: // silence (sniff_timeout passes), then close
				time.Sleep(1100 * time.Millisecond)
			case 4: // policy request
				tc.Write([]byte(policyRequest))
				if got, _ := io.ReadAll(tc); !bytes.Contains(got, []byte("cross-domain-policy")) {
					errs <- fmt.Errorf("client %d policy: %q", i, got)
				}
			case 5: // bulk data, never read back
				chunk := bytes.Repeat(msg, 4096)
				for range 4 {
					if _, err := tc.Write(chunk); err != nil {
						break
					}
				}
			case 6: // HTTP, handed over to a goroutine
				tc.Write([]byte("GET /crossdomain.xml HTTP/1.0\r\n\r\n"))
				if got, _ := io.ReadAll(tc); !bytes.Contains(got, []byte("200 OK")) {
					errs <- fmt.Errorf("client %d http: %q", i, got)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitFor(t, func() bool { return gw.loops.Open() == 0 }, "every connection off the loops")
	waitFor(t, func() bool {
		gw.mu.Lock()
		defer gw.mu.Unlock()
		return len(gw.conns) == 0
	}, "every connection untracked")
	// Pooled pipes may stay up to pipeIdle; allow for them. The echo
	// backend's io.Copy splices through the Go runtime's own pipes, cached
	// in a sync.Pool and closed only by a cleanup after garbage collection
	// (hundreds of them after this burst): collect, so that only the
	// gateway's descriptors are left to count.
	deadline := time.Now().Add(10 * time.Second)
	for fds() > base+evloop.PooledPipes()*2 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := fds(); got > base+evloop.PooledPipes()*2 {
		ents, _ := os.ReadDir("/proc/self/fd")
		var open []string
		for _, e := range ents {
			target, _ := os.Readlink("/proc/self/fd/" + e.Name())
			open = append(open, e.Name()+"→"+target)
		}
		t.Fatalf("%d descriptors after the chaos, %d before (%d pooled pipes): %v", got, base, evloop.PooledPipes(), open)
	}
	stop()
	if got := strings.Count(logs.String(), `"message":"connection closed"`); got != n+1 {
		t.Fatalf("%d summary lines for %d connections", got, n+1)
	}
}

// TestEventedProxyDrip: a PROXY header (v1 and v2) arriving a byte at a
// time on a multiplexed evented listener is read exactly: the bytes after
// it are sniffed (a policy request answered) or relayed intact, the backend
// gets its own header first, and bytes_up counts only the client's bytes.
func TestEventedProxyDrip(t *testing.T) {
	onlyEngine(t, "loop", "it tests the event loops")
	for _, version := range []string{"v1", "v2"} {
		t.Run(version, func(t *testing.T) {
			baddr, reports := startProxyBackend(t, "v2")
			cfg := testConfig()
			cfg.Backends = []*config.Backend{{Name: "b", Address: []string{baddr}, ProxyProtocol: "v2"}}
			l := testListener("pp", "games", "b")
			l.ProxyProtocol = version
			cfg.Listeners = []*config.Listener{l}
			gw, logs, stop := startGateway(t, cfg)
			if !gw.listeners[0].route.Load().evented() {
				t.Fatal("not evented")
			}
			real := netip.MustParseAddrPort("203.0.113.7:5555")
			dst := netip.MustParseAddrPort("192.0.2.1:843")
			hdr := wire.AppendProxy(nil, version, real, dst)
			drip := func(c *net.TCPConn, b []byte) {
				for i := range b {
					if _, err := c.Write(b[i : i+1]); err != nil {
						t.Fatal(err)
					}
					time.Sleep(time.Millisecond)
				}
			}

			p := dial(t, gw.Addr("pp"))
			drip(p, hdr)
			p.Write([]byte(policyRequest))
			if answer, _ := io.ReadAll(p); !bytes.Contains(answer, []byte("cross-domain-policy")) {
				t.Fatalf("policy after a dripped header: %q", answer)
			}

			c := dial(t, gw.Addr("pp"))
			drip(c, hdr)
			payload := "\x02binary after the header"
			c.Write([]byte(payload))
			got := make([]byte, len(payload))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != payload {
				t.Fatalf("echo %q %v", got, err)
			}
			c.CloseWrite()
			r := recvReport(t, reports)
			if r.hdr.Src != real || string(r.data) != payload {
				t.Fatalf("backend saw %+v %q", r.hdr, r.data)
			}
			c.Close()
			waitFor(t, func() bool { return gw.loops.Open() == 0 }, "relays ended")
			stop()
			out := logs.String()
			if !strings.Contains(out, fmt.Sprintf(`"client":"%s","kind":"data","backend":"%s","bytes_up":%d`, real, baddr, len(payload))) {
				t.Fatalf("summary lacks the real client or counts the backend header:\n%s", out)
			}
		})
	}
}

// TestEventedHostName: a backend given by host name is resolved in the
// background and then dialed by the loops; its addresses are tried in order
// (localhost may answer ::1 first while the backend listens on 127.0.0.1
// only). Before the first answer, connections take the goroutine path.
func TestEventedHostName(t *testing.T) {
	backend := startBackend(t, echoHandler)
	_, port, _ := net.SplitHostPort(backend)
	gw, logs, stop := eventedGateway(t, nil, net.JoinHostPort("localhost", port))
	// (eventedGateway resolves through /etc/hosts only: no DNS query leaves the machine.)
	b := gw.listeners[0].route.Load().backend
	waitFor(t, b.loopReady, "localhost resolved")
	t.Logf("localhost resolved to %v", b.servers[0].addrs())
	c := dial(t, gw.Addr("bin"))
	echoOnce(t, c, "by name")
	if got := gw.loops.Open(); got != 1 {
		t.Fatalf("loops hold %d connections, want the one to a host-name backend", got)
	}
	c.Close()

	// Several addresses, the first refusing: the next one is dialed and
	// the server stays up (the resolver refreshes only after resolveEvery).
	dead := netip.MustParseAddrPort(deadAddr(t))
	live := netip.MustParseAddrPort(backend)
	b.servers[0].resolved.Store(&[]netip.AddrPort{dead, live})
	c2 := dial(t, gw.Addr("bin"))
	echoOnce(t, c2, "second address")
	c2.Close()
	waitFor(t, func() bool { return gw.loops.Open() == 0 }, "the relays ended")
	stop()
	if st := b.servers[0].state(); !st.Up {
		t.Fatalf("a reachable host-name server is marked down: %+v", st)
	}
	if !strings.Contains(logs.String(), `"backend":"localhost:`+port+`"`) {
		t.Fatalf("summary does not name the server as configured:\n%s", logs)
	}
}
