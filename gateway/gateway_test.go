package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/policyfile"
)

// testPolicy is the policy the runtime tests serve.
var testPolicy = &policyfile.Policy{
	SiteControl: policyfile.MasterOnly,
	Allow:       []policyfile.Allow{{Domain: "*.example.com", ToPorts: "1024-65535"}},
}

// testConfig returns a config with one policy, ready for listeners.
func testConfig() *config.Config {
	return &config.Config{
		ShutdownTimeout: 2 * time.Second,
		Policies:        []*config.Policy{{Name: "games", Policy: testPolicy}},
	}
}

func testListener(name, policy, backend string) *config.Listener {
	return &config.Listener{Name: name, Address: "127.0.0.1:0", Policy: policy, Backend: backend,
		Protocol: "binary", SniffTimeout: 300 * time.Millisecond, IdleTimeout: time.Minute}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGateway runs cfg on loopback until the test ends. It returns the
// gateway, its JSON log and a stop function that shuts it down and waits.
func startGateway(t *testing.T, cfg *config.Config, adjust ...func(*Gateway)) (*Gateway, *syncBuffer, func()) {
	t.Helper()
	logs := &syncBuffer{}
	gw, err := New(cfg, zerolog.New(logs).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatal(err)
	}
	goroutineEngine(gw) // main_test.go: the suite runs on both engines
	for _, f := range adjust {
		f(gw)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := gw.Listen(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("gateway did not stop")
			}
		})
	}
	t.Cleanup(stop)
	return gw, logs, stop
}

// startBackend runs a TCP server on loopback whose connections are handled
// by handle; it is closed when the test ends.
func startBackend(t *testing.T, handle func(*net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String()
}

// echoHandler echoes until EOF, then half-closes.
func echoHandler(c *net.TCPConn) {
	_, _ = io.Copy(c, c)
	_ = c.CloseWrite()
}

func dial(t *testing.T, addr net.Addr) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

func TestPolicyResponder(t *testing.T) {
	cfg := testConfig()
	cfg.Listeners = []*config.Listener{testListener("master", "games", "")}
	gw, logs, _ := startGateway(t, cfg)
	want := append(testPolicy.Generate(), 0)
	tests := []struct {
		name   string
		chunks []string
	}{
		{"policy-file-request", []string{"<policy-file-request/>\x00"}},
		{"cross-domain-request", []string{"<cross-domain-request/>\x00"}},
		{"split in three", []string{"<policy", "-file-request/", ">\x00"}},
		{"byte by byte", strings.Split("<policy-file-request/>\x00", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dial(t, gw.Addr("master"))
			for _, ch := range tt.chunks {
				if _, err := c.Write([]byte(ch)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(2 * time.Millisecond)
			}
			got, err := io.ReadAll(c) // the server closes after the NUL
			if err != nil {
				t.Fatalf("read answer: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("answer:\n%q\nwant:\n%q", got, want)
			}
			if got[len(got)-1] != 0 {
				t.Fatal("answer does not end in NUL")
			}
		})
	}
	if !strings.Contains(logs.String(), `"reason":"policy served"`) {
		t.Errorf("no summary line for a served policy in:\n%s", logs)
	}
}

func TestPolicyOnlyListenerClosesOtherTraffic(t *testing.T) {
	cfg := testConfig()
	cfg.Listeners = []*config.Listener{testListener("master", "games", "")}
	gw, _, _ := startGateway(t, cfg)
	for _, send := range []string{"", "hello", "<policy-file"} {
		c := dial(t, gw.Addr("master"))
		if send != "" {
			c.Write([]byte(send))
		}
		start := time.Now()
		got, _ := io.ReadAll(c)
		if len(got) != 0 {
			t.Errorf("sent %q: got %q, want nothing", send, got)
		}
		if send != "hello" && time.Since(start) < 250*time.Millisecond {
			t.Errorf("sent %q: closed after %v, before sniff_timeout", send, time.Since(start))
		}
	}
}

func TestRelayRandomBytesWithHalfClose(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{backend}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*config.Listener{testListener("bin", "", "echo")}
	gw, logs, stop := startGateway(t, cfg)
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	c := dial(t, gw.Addr("bin"))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		if err == nil {
			err = c.CloseWrite() // client half-close: must reach the backend as EOF
		}
		errc <- err
	}()
	got, err := io.ReadAll(c) // the backend's EOF must come back after the echo
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("echoed %d bytes, want %d identical bytes", len(got), len(payload))
	}
	stop()
	if !strings.Contains(logs.String(), `"bytes_up":1048576,"bytes_down":1048576`) {
		t.Errorf("summary line lacks the byte counts:\n%s", logs)
	}
}

// TestRelayMovesBulk: the goroutine relay moves bulk data through its
// buffers; only the event loops splice (TestEventedSplices).
func TestRelayMovesBulk(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) {
		_, _ = io.Copy(io.Discard, c)
		_ = c.CloseWrite()
	})
	server, client := tcpPair(t)
	bc, err := net.Dial("tcp", backend)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 8<<20)
	go func() {
		client.Write(payload)
		client.CloseWrite()
		io.Copy(io.Discard, client)
	}()
	res := runRelay(server, nil, bc, time.Minute)
	if res.Up != int64(len(payload)) {
		t.Fatalf("relayed %d bytes up, want %d", res.Up, len(payload))
	}
	if res.Spliced != 0 {
		t.Fatalf("the goroutine relay reports %d bytes spliced: only the event loops splice", res.Spliced)
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t testing.TB) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

func TestSilentClientGetsGreeting(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) {
		c.Write([]byte("+OK POP3 ready\r\n"))
		echoHandler(c)
	})
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "pop", Address: []string{backend}}}
	cfg.Listeners = []*config.Listener{testListener("pop", "games", "pop")}
	gw, _, _ := startGateway(t, cfg)
	c := dial(t, gw.Addr("pop"))
	start := time.Now()
	line := make([]byte, 16)
	if _, err := io.ReadFull(c, line); err != nil {
		t.Fatalf("no greeting: %v", err)
	}
	if string(line) != "+OK POP3 ready\r\n" {
		t.Fatalf("greeting %q", line)
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Errorf("greeting after %v: the gateway did not wait for sniff_timeout", time.Since(start))
	}
	c.Write([]byte("QUIT\r\n"))
	back := make([]byte, 6)
	if _, err := io.ReadFull(c, back); err != nil || string(back) != "QUIT\r\n" {
		t.Fatalf("echo after greeting: %q %v", back, err)
	}
}

func TestTransparentListenerRelaysPolicyRequest(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "legacy", Address: []string{backend}}}
	cfg.Listeners = []*config.Listener{testListener("legacy", "", "legacy")}
	gw, _, _ := startGateway(t, cfg)
	c := dial(t, gw.Addr("legacy"))
	c.Write(policyRequest)
	got := make([]byte, len(policyRequest))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, policyRequest) {
		t.Fatalf("backend did not receive the policy request: %q %v", got, err)
	}
}

func TestInlinePolicyAndBuiltinEcho(t *testing.T) {
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Builtin: "echo"}}
	cfg.Listeners = []*config.Listener{testListener("chat", "games", "echo")}
	gw, _, _ := startGateway(t, cfg)

	c := dial(t, gw.Addr("chat"))
	c.Write([]byte("<policy-file-request/>\x00"))
	got, _ := io.ReadAll(c)
	if !bytes.Equal(got, testPolicy.SocketAnswer()) {
		t.Fatalf("inline policy answer %q", got)
	}

	c = dial(t, gw.Addr("chat"))
	msg := []byte("<msg user=\"a\">hello</msg>\x00")
	c.Write(msg)
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
		t.Fatalf("echo %q %v", back, err)
	}
	c.CloseWrite()
	if rest, _ := io.ReadAll(c); len(rest) != 0 {
		t.Fatalf("extra bytes %q", rest)
	}
}

func TestBackendFailover(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there now: connection refused
	live := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "pool", Address: []string{deadAddr, live}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*config.Listener{testListener("bin", "", "pool")}
	gw, logs, stop := startGateway(t, cfg)
	c := dial(t, gw.Addr("bin"))
	c.Write([]byte{1, 2, 3})
	got := make([]byte, 3)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("no echo through the second address: %v", err)
	}
	c.Close()
	stop()
	if !strings.Contains(logs.String(), `"backend":"`+live+`"`) {
		t.Errorf("summary does not name the live backend:\n%s", logs)
	}
}

func TestBackendUnreachable(t *testing.T) {
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "gone", Address: []string{deadAddr}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*config.Listener{testListener("bin", "", "gone")}
	gw, logs, stop := startGateway(t, cfg)
	c := dial(t, gw.Addr("bin"))
	c.Write([]byte("x"))
	if got, _ := io.ReadAll(c); len(got) != 0 {
		t.Fatalf("got %q from an unreachable backend", got)
	}
	stop()
	if !strings.Contains(logs.String(), "backend unreachable") {
		t.Errorf("no reason logged:\n%s", logs)
	}
}

func TestIdleTimeout(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{backend}}}
	l := testListener("bin", "", "echo")
	l.IdleTimeout = 300 * time.Millisecond
	cfg.Listeners = []*config.Listener{l}
	gw, logs, stop := startGateway(t, cfg)
	c := dial(t, gw.Addr("bin"))
	// Activity keeps it open past the timeout...
	var start time.Time
	for i := range 5 {
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatalf("closed while active: %v", err)
		}
		start = time.Now()
		if i < 4 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	// ...silence closes it.
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("read: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("closed after %v of silence, before idle_timeout", d)
	}
	stop()
	if !strings.Contains(logs.String(), `"reason":"idle timeout"`) {
		t.Errorf("no idle timeout reason:\n%s", logs)
	}
}

func TestGracefulShutdown(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{backend}}}
	cfg.Listeners = []*config.Listener{testListener("bin", "", "echo")}
	gw, _, stop := startGateway(t, cfg)
	addr := gw.Addr("bin")
	c := dial(t, addr)
	c.Write([]byte("a"))
	io.ReadFull(c, make([]byte, 1))

	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	// New connections are refused once the listener closes...
	deadline := time.Now().Add(3 * time.Second)
	for {
		nc, err := net.DialTimeout("tcp", addr.String(), time.Second)
		if err != nil {
			break
		}
		nc.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// ...while the open relay keeps working until its client ends it.
	select {
	case <-stopped:
		t.Fatal("gateway stopped before the open relay ended")
	default:
	}
	c.Write([]byte("b"))
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil || b[0] != 'b' {
		t.Fatalf("relay broken during drain: %v", err)
	}
	c.Close()
	select {
	case <-stopped:
	case <-time.After(4 * time.Second):
		t.Fatal("gateway did not stop after the last relay ended")
	}
}

func TestShutdownTimeoutClosesStragglers(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.ShutdownTimeout = 200 * time.Millisecond
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{backend}}}
	cfg.Listeners = []*config.Listener{testListener("bin", "", "echo")}
	gw, logs, stop := startGateway(t, cfg)
	c := dial(t, gw.Addr("bin"))
	c.Write([]byte("a"))
	io.ReadFull(c, make([]byte, 1))
	stop()
	if _, err := io.ReadAll(c); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("read after shutdown: %v", err)
	}
	if !strings.Contains(logs.String(), `"reason":"shutdown"`) {
		t.Errorf("straggler not closed with reason shutdown:\n%s", logs)
	}
}

func TestDualStackListener(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip("IPv6 loopback not available: ", err)
	}
	ln.Close()
	cfg := testConfig()
	l := testListener("master", "games", "")
	l.Address = "[::]:0"
	cfg.Listeners = []*config.Listener{l}
	gw, logs, stop := startGateway(t, cfg)
	_, port, _ := net.SplitHostPort(gw.Addr("master").String())
	for _, host := range []string{"127.0.0.1", "::1"} {
		c, err := net.Dial("tcp", net.JoinHostPort(host, port))
		if err != nil {
			t.Fatalf("dial %s: %v", host, err)
		}
		c.Write(policyRequest)
		got, _ := io.ReadAll(c)
		c.Close()
		if !bytes.HasSuffix(got, []byte{0}) {
			t.Fatalf("%s: answer %q", host, got)
		}
	}
	stop()
	// An IPv4 client of a [::] listener is logged as IPv4, not v4-mapped.
	if out := logs.String(); !strings.Contains(out, `"client":"127.0.0.1:`) || strings.Contains(out, "::ffff:") {
		t.Errorf("IPv4 client not logged as plain IPv4:\n%s", out)
	}
}

func TestGarbageIsRelayedAsData(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{backend}}}
	cfg.Listeners = []*config.Listener{testListener("bin", "games", "echo")}
	gw, _, _ := startGateway(t, cfg)
	inputs := [][]byte{{0x16, 0x03, 0x01, 0xff}, []byte("GET / HTTP/1.1\r\n\r\n"), {0xff, 0xfe}, []byte("<policy-file-request/>x")}
	for _, in := range inputs {
		c := dial(t, gw.Addr("bin"))
		c.Write(in)
		c.CloseWrite()
		got, _ := io.ReadAll(c)
		if !bytes.Equal(got, in) {
			t.Errorf("sent %q, echoed %q", in, got)
		}
	}
}

// TestTransparentListenerDoesNotSniff: a binary listener without a policy
// dials at once, so a backend that speaks first greets without waiting for
// sniff_timeout, and the summary says the connection was not sniffed.
func TestTransparentListenerDoesNotSniff(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) {
		c.Write([]byte("220 ready\r\n"))
		echoHandler(c)
	})
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "smtp", Address: []string{backend}}}
	l := testListener("smtp", "", "smtp")
	l.SniffTimeout = 30 * time.Second // would dominate if the gateway sniffed
	cfg.Listeners = []*config.Listener{l}
	gw, logs, stop := startGateway(t, cfg)
	c := dial(t, gw.Addr("smtp"))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	greeting := make([]byte, 11)
	if _, err := io.ReadFull(c, greeting); err != nil || string(greeting) != "220 ready\r\n" {
		t.Fatalf("greeting %q %v (a sniffing listener would still be waiting)", greeting, err)
	}
	c.Close()
	stop()
	if !strings.Contains(logs.String(), `"kind":"raw"`) {
		t.Errorf("summary does not report kind raw:\n%s", logs)
	}
}
