//go:build linux

package gateway

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/evloop"
	"github.com/flashgate/flashgate/policyfile"
	"golang.org/x/sys/unix"
)

// openFDs counts the process's descriptors.
func openFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// TestEventedIdleAfterBurstHoldsNoPipe: connections that carried a 4 MiB
// burst each way and went idle hold their two sockets and no splice pipe.
func TestEventedIdleAfterBurstHoldsNoPipe(t *testing.T) {
	// The descriptors are counted process-wide, so the backend echoes
	// through a buffer: io.Copy between TCP sockets would splice through
	// the Go runtime's own pipes, which only a garbage collection closes.
	backend := startBackend(t, func(c *net.TCPConn) {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, werr := c.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = c.CloseWrite()
				return
			}
		}
	})
	gw, _, _ := eventedGateway(t, nil, backend)
	const n = 8
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		conns[i] = dial(t, gw.Addr("bin"))
		echoOnce(t, conns[i], "warm")
	}
	evloop.EmptyPipePool()
	runtime.GC()        // earlier tests' runtime splice pipes: closed now, not mid-test
	before := openFDs() // n × (client, gateway's two, backend's one)
	data := make([]byte, 4<<20)
	rand.Read(data)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			go c.Write(data)
			back := make([]byte, len(data))
			if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, data) {
				errs <- fmt.Errorf("burst echoed intact=%v: %v", bytes.Equal(back, data), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Idle now; the pool's expiry (pipeIdle) closes the returned pipes.
	time.Sleep(50 * time.Millisecond)
	evloop.EmptyPipePool()
	runtime.GC()
	if got := openFDs(); got != before {
		t.Fatalf("%d descriptors with %d idle connections after a burst, %d before it: %d pipes held",
			got, n, before, (got-before)/2)
	}
	if got := gw.loops.Open(); got != n {
		t.Fatalf("loops hold %d connections, want %d", got, n)
	}
}

// TestEventedPolicyLargerThanSendBuffer: a policy answer far larger than
// what the socket takes at once (800 allow blocks, ~60 KB) reaches a
// client with a tiny receive buffer whole.
func TestEventedPolicyLargerThanSendBuffer(t *testing.T) {
	big := &policyfile.Policy{SiteControl: policyfile.MasterOnly}
	for i := range 800 {
		big.Allow = append(big.Allow, policyfile.Allow{Domain: fmt.Sprintf("host%03d.games.example.com", i), ToPorts: "9000-9010,9443"})
	}
	want := big.SocketAnswer()
	if len(want) < 50<<10 {
		t.Fatalf("the policy answer is only %d bytes", len(want))
	}
	cfg := testConfig()
	cfg.Policies = []*config.Policy{{Name: "games", Policy: big}}
	cfg.Listeners = []*config.Listener{testListener("master", "games", "")}
	gw, _, _ := startGateway(t, cfg)
	if !gw.listeners[0].route.Load().evented() {
		t.Fatal("the policy listener is not evented")
	}
	// Accepted sockets inherit the listener's send buffer: make it small.
	lrc, err := gw.listeners[0].ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := lrc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 4096) }); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 2048) })
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", gw.Addr("master").String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Write([]byte(policyRequest)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the gateway meet the full window
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("policy answer: %d of %d bytes, equal %v, err %v", len(got), len(want), bytes.Equal(got, want), err)
	}
}

// TestEventedResetWhileBackendStalled: clients push data at a backend that
// never reads until their bytes wait in the gateway, then reset. Each relay
// ends, and the backend sees its socket closed, long before idle_timeout.
func TestEventedResetWhileBackendStalled(t *testing.T) {
	var mu sync.Mutex
	var held []*net.TCPConn
	end := make(chan struct{})
	backend := startBackend(t, func(c *net.TCPConn) {
		_ = c.SetReadBuffer(4096)
		mu.Lock()
		held = append(held, c)
		mu.Unlock()
		<-end // never reads
	})
	t.Cleanup(func() { close(end) })
	gw, logs, _ := eventedGateway(t, func(c *config.Config) { c.Listeners[0].IdleTimeout = 10 * time.Minute }, backend)
	const n = 4
	chunk := make([]byte, 256<<10)
	for range n {
		c := dial(t, gw.Addr("bin"))
		// Write until the bytes back up through the gateway.
		for {
			_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			if _, err := c.Write(chunk); err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatal(err)
				}
				break
			}
		}
		_ = c.SetLinger(0)
		c.Close()
	}
	closedAtBackend := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(held) < n {
			return false
		}
		for _, c := range held {
			rc, _ := c.SyscallConn()
			var state uint8
			_ = rc.Control(func(fd uintptr) {
				if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
					state = info.State
				}
			})
			if state == 1 { // TCP_ESTABLISHED
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(5 * time.Second)
	for (gw.loops.Open() > 0 || !closedAtBackend()) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := gw.loops.Open(); got != 0 {
		t.Fatalf("%d relays still open after their clients reset", got)
	}
	if !closedAtBackend() {
		t.Fatal("the backend's sockets are still established after the clients reset")
	}
	if out := logs.String(); !bytes.Contains([]byte(out), []byte(`"reason":"client error"`)) {
		t.Fatalf("no relay ended with reason client error:\n%s", out)
	}
}

// TestEventedSniffTimeoutOnTime: silent clients of a policy-only listener
// are closed when sniff_timeout (300 ms) passes, each on time: the loop's
// wait deadline is its earliest timer. The lateness is the gateway's own
// (its reported duration less sniff_timeout): a test client stalled by a
// loaded machine does not add to it.
func TestEventedSniffTimeoutOnTime(t *testing.T) {
	const sniff = 300 * time.Millisecond
	cfg := testConfig()
	cfg.Listeners = []*config.Listener{testListener("master", "games", "")}
	gw, logs, _ := startGateway(t, cfg)
	if !gw.listeners[0].route.Load().evented() {
		t.Fatal("the policy listener is not evented")
	}
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		time.Sleep(37 * time.Millisecond) // stagger the deadlines
		wg.Go(func() {
			c := dial(t, gw.Addr("master"))
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("client %d was not closed at sniff_timeout: %v", i, err)
			}
		})
	}
	wg.Wait()
	waitFor(t, func() bool { return len(closedDurations(t, logs.String(), "master")) == n }, "every client reported")
	late := closedDurations(t, logs.String(), "master")
	worst := time.Duration(0)
	for i, d := range late {
		late[i] = d - sniff
		worst = max(worst, late[i])
		if late[i] < 0 || late[i] > 250*time.Millisecond {
			t.Errorf("a client closed %v after sniff_timeout", late[i])
		}
	}
	t.Logf("sniff timeouts fired %v late at worst: %v", worst, late)
}

// TestEventedWaitsForHostName: while a host-name backend is not resolved,
// a connection waits in the loop and dials once it resolves; one that does
// not resolve ends at connect_timeout.
func TestEventedWaitsForHostName(t *testing.T) {
	backend := startBackend(t, echoHandler)
	_, port, _ := net.SplitHostPort(backend)
	gw, logs, stop := eventedGateway(t, func(c *config.Config) { c.Backends[0].ConnectTimeout = 2 * time.Second },
		net.JoinHostPort("localhost", port))
	b := gw.listeners[0].route.Load().backend
	waitFor(t, b.loopReady, "localhost resolved")
	s := b.servers[0]
	s.resolved.Store(&[]netip.AddrPort{}) // not resolved (yet)
	c := dial(t, gw.Addr("bin"))
	if _, err := c.Write([]byte("waited")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := gw.loops.Open(); got != 1 {
		t.Fatalf("loops hold %d connections while the name resolves, want 1", got)
	}
	s.resolved.Store(&[]netip.AddrPort{netip.MustParseAddrPort(backend)})
	back := make([]byte, 6)
	if _, err := io.ReadFull(c, back); err != nil || string(back) != "waited" {
		t.Fatalf("after the name resolved: %q %v", back, err)
	}
	c.Close()
	waitFor(t, func() bool { return gw.loops.Open() == 0 }, "the relay ended")

	s.resolved.Store(&[]netip.AddrPort{})
	c2 := dial(t, gw.Addr("bin"))
	_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c2.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a name never resolved: read %d %v, want the connection closed", n, err)
	}
	stop()
	if !bytes.Contains([]byte(logs.String()), []byte("not resolved within connect_timeout")) {
		t.Fatalf("the unresolved name is not reported:\n%s", logs)
	}
}
