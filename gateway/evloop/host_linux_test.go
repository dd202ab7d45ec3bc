//go:build linux

package evloop

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashgate/flashgate/gateway/wire"
)

// testHost is a Host with no gateway behind it: it relays to one backend
// address, or answers policy requests.
type testHost struct {
	st      Settings
	answer  []byte         // Decide answers policy requests with it
	backend netip.AddrPort // the one address dialed
	tried   bool
	served  atomic.Int32
	done    chan Summary
	sniff   [wire.MaxSniff]byte
}

func newTestHost(st Settings) *testHost {
	h := &testHost{st: st, done: make(chan Summary, 1)}
	h.st.Start = time.Now()
	h.st.SniffBuf = h.sniff[:]
	return h
}

func (h *testHost) Settings() Settings { return h.st }
func (h *testHost) Decide(kind wire.Kind, _ []byte) Decision {
	if kind == wire.KindPolicy && h.answer != nil {
		return Decision{Action: Answer, Answer: h.answer}
	}
	return Decision{Action: ToBackend}
}
func (h *testHost) AdmitProxied(wire.ProxyHeader) string { return "" }
func (h *testHost) Reject(fd int, reason string, err error) {
	unix.Close(fd)
	h.done <- Summary{Reason: "rejected " + reason, Err: err}
}
func (h *testHost) Addrs() (client, local netip.AddrPort) { return }
func (h *testHost) Dialer() Dialer                        { return h }
func (h *testHost) PolicyServed()                         { h.served.Add(1) }
func (h *testHost) HandOver(fd int, _ int, kind wire.Kind) {
	unix.Close(fd)
	h.done <- Summary{Kind: kind, Reason: "handed over"}
}
func (h *testHost) Finish(s Summary) { h.done <- s }

func (h *testHost) Resolved() bool                { return true }
func (h *testHost) Unresolved() error             { return errors.New("unresolved") }
func (h *testHost) ConnectTimeout() time.Duration { return 5 * time.Second }
func (h *testHost) ProxyOut() string              { return "" }
func (h *testHost) Start()                        { h.tried = false }
func (h *testHost) Failed(error)                  {}
func (h *testHost) Connected()                    {}
func (h *testHost) Err() error                    { return errors.New("no backend") }
func (h *testHost) NextAddr() (netip.AddrPort, bool) {
	if h.tried || !h.backend.IsValid() {
		return netip.AddrPort{}, false
	}
	h.tried = true
	return h.backend, true
}

// wait returns the connection's summary.
func (h *testHost) wait(t *testing.T) Summary {
	t.Helper()
	select {
	case s := <-h.done:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the connection did not end")
		return Summary{}
	}
}

// acceptedPair dials a listener of its own and returns the client side and
// the accepted socket, non-blocking, as Accept4 gives it.
func acceptedPair(t *testing.T) (net.Conn, int) {
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
	t.Cleanup(func() { c.Close() })
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lfd := int(f.Fd())
	if err := unix.SetNonblock(lfd, true); err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		fd, _, err := Accept4(lfd)
		if err == nil {
			return c, fd
		}
		if err != unix.EAGAIN {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("nothing to accept")
	return nil, -1
}

func startLoops(t *testing.T) *Loops {
	t.Helper()
	ls, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ls.Close)
	return ls
}

// TestHostRelays: a transparent connection is dialed through the Host's
// Dialer, relayed both ways, and summed up in Finish.
func TestHostRelays(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		c, err := echo.Accept()
		if err == nil {
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}()
	ls := startLoops(t)
	h := newTestHost(Settings{Transparent: true})
	h.backend = netip.MustParseAddrPort(echo.Addr().String())
	c, fd := acceptedPair(t)
	if err := ls.Prepare(fd, h).Start(); err != nil {
		t.Fatal(err)
	}
	msg := []byte("hello")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || string(back) != string(msg) {
		t.Fatalf("echo %q, %v", back, err)
	}
	c.Close()
	s := h.wait(t)
	if s.Up != 5 || s.Down != 5 || s.Reason != "client closed" || s.Kind != wire.KindRaw {
		t.Fatalf("summary %+v", s)
	}
}

// TestHostAnswersPolicy: a sniffed policy request gets the Host's answer,
// the connection closes, and the Host counts it served.
func TestHostAnswersPolicy(t *testing.T) {
	ls := startLoops(t)
	h := newTestHost(Settings{SniffTimeout: 5 * time.Second})
	h.answer = []byte("<cross-domain-policy/>\x00")
	c, fd := acceptedPair(t)
	if err := ls.Prepare(fd, h).Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte(wire.PolicyRequest)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != string(h.answer) {
		t.Fatalf("answer %q, %v", got, err)
	}
	s := h.wait(t)
	if s.Kind != wire.KindPolicy || s.Reason != ReasonPolicyServed || h.served.Load() != 1 {
		t.Fatalf("summary %+v, served %d", s, h.served.Load())
	}
}

// TestHostIdleTimeout: a relay that moves nothing ends at its idle timeout
// with ErrIdle; a backend nobody answers ends with the Dialer's error.
func TestHostIdleTimeout(t *testing.T) {
	quiet, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer quiet.Close()
	ls := startLoops(t)
	h := newTestHost(Settings{Transparent: true, IdleTimeout: 50 * time.Millisecond})
	h.backend = netip.MustParseAddrPort(quiet.Addr().String())
	_, fd := acceptedPair(t)
	if err := ls.Prepare(fd, h).Start(); err != nil {
		t.Fatal(err)
	}
	if s := h.wait(t); s.Reason != ReasonIdle || !errors.Is(s.Err, ErrIdle) {
		t.Fatalf("summary %+v", s)
	}
	if n := ls.Open(); n != 0 {
		t.Fatalf("%d connections still open", n)
	}

	h = newTestHost(Settings{Transparent: true})
	_, fd = acceptedPair(t)
	if err := ls.Prepare(fd, h).Start(); err != nil {
		t.Fatal(err)
	}
	if s := h.wait(t); s.Reason != ReasonUnreachable || s.Err == nil || s.Err.Error() != "no backend" {
		t.Fatalf("summary %+v", s)
	}
}

// TestCloseRefuses: Start after Close is refused and the socket stays the
// caller's; a connection open at Close ends with reason shutdown.
func TestCloseRefuses(t *testing.T) {
	ls, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHost(Settings{SniffTimeout: time.Minute})
	_, fd := acceptedPair(t)
	if err := ls.Prepare(fd, h).Start(); err != nil {
		t.Fatal(err)
	}
	ls.Close()
	if s := h.wait(t); s.Reason != ReasonShutdown {
		t.Fatalf("summary %+v", s)
	}
	_, fd = acceptedPair(t)
	if err := ls.Prepare(fd, newTestHost(Settings{})).Start(); err == nil {
		t.Fatal("a closed loop took a connection")
	}
	unix.Close(fd)
}
