//go:build linux

package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/stream"
	"golang.org/x/sys/unix"
)

// Failing backends: each way a backend can fail ends the client's
// connection promptly with a logged reason, and none makes the gateway
// buffer, spin or stop serving.

// failingConfig is a binary listener (no policy) in front of backend addr.
func failingConfig(addr string, connectTimeout time.Duration) *config.Config {
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: []string{addr}, ConnectTimeout: connectTimeout}}
	cfg.Listeners = []*config.Listener{testListener("l", "", "b")}
	return cfg
}

// clientEnd sends msg and reads until the gateway ends the connection. It
// returns what was read and how long the end took.
func clientEnd(t *testing.T, gw *Gateway, msg string) ([]byte, time.Duration) {
	t.Helper()
	// From before the connect: a transparent listener dials the backend as
	// soon as it accepts, before the client's first byte.
	start := time.Now()
	c := dial(t, gw.Addr("l"))
	_ = c.SetReadDeadline(start.Add(20 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if stream.IsTimeout(err) {
		t.Fatalf("client still open after %v", time.Since(start))
	}
	return got, time.Since(start)
}

// summaryWith waits for a summary line containing every part.
func summaryWith(t *testing.T, logs *syncBuffer, parts ...string) string {
	t.Helper()
	var line string
	waitFor(t, func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			ok := strings.Contains(l, "connection closed")
			for _, p := range parts {
				ok = ok && strings.Contains(l, p)
			}
			if ok {
				line = l
				return true
			}
		}
		return false
	}, fmt.Sprintf("a summary line with %q", parts))
	return line
}

// fullBacklogListener returns the address of a loopback socket that listens
// with a backlog of 0 and never accepts, its queue already full: further
// SYNs are dropped, so a dial there hangs until its timeout.
func fullBacklogListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	// Fill the accept queue: dial until a dial times out.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			if !stream.IsTimeout(err) && !strings.Contains(err.Error(), "timeout") {
				t.Fatalf("filling the backlog: %v", err)
			}
			return addr
		}
		t.Cleanup(func() { c.Close() })
		if i > 64 {
			t.Skip("SKIPPED LOUDLY: the kernel keeps accepting into a backlog of 0; cannot make a backend that never accepts")
		}
	}
}

func TestFailingBackendNeverAccepts(t *testing.T) {
	addr := fullBacklogListener(t)
	const connectTimeout = 700 * time.Millisecond
	gw, logs, _ := startGateway(t, failingConfig(addr, connectTimeout))
	got, after := clientEnd(t, gw, "hello")
	if len(got) != 0 {
		t.Errorf("got %q", got)
	}
	if after < connectTimeout {
		t.Errorf("client closed after %v, before the connect timeout %v", after, connectTimeout)
	}
	if after > connectTimeout+3*time.Second {
		t.Errorf("client closed after %v; connect timeout %v", after, connectTimeout)
	}
	line := summaryWith(t, logs, `"reason":"backend unreachable"`)
	if !strings.Contains(line, "i/o timeout") && !strings.Contains(line, "deadline exceeded") {
		t.Errorf("the reason does not say it timed out: %s", line)
	}
}

func TestFailingBackendNeverReads(t *testing.T) {
	stalled := make(chan struct{})
	backend := startBackend(t, func(c *net.TCPConn) {
		<-stalled // never reads until the test ends
	})
	t.Cleanup(func() { close(stalled) })
	gw, _, _ := startGateway(t, failingConfig(backend, time.Second))
	before := heapInuse()
	c := dial(t, gw.Addr("l"))
	written := pushUntilBlocked(c)
	checkNoBuffering(t, written, before, heapInuse())
}

func TestFailingBackendDiesMidStream(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		c.Write([]byte("half of a rep")) // then the process "dies": close
	})
	gw, logs, _ := startGateway(t, failingConfig(backend, time.Second))
	c := dial(t, gw.Addr("l"))
	start := time.Now()
	c.Write([]byte("hello"))
	got, err := io.ReadAll(c) // EOF: the backend's close reached the client
	if err != nil {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	if string(got) != "half of a rep" {
		t.Errorf("got %q", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the client saw the backend's end after %v", d)
	}
	// The client's next bytes find no backend: the connection ends.
	c.Write([]byte("more"))
	c.Close()
	summaryWith(t, logs, `"reason":"backend closed"`, `"bytes_down":13`)
	waitFor(t, func() bool { return gw.status().Listeners[0].Active == 0 }, "the connection gone")
}

func TestFailingBackendResets(t *testing.T) {
	backend := startBackend(t, func(c *net.TCPConn) {
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		c.Write([]byte("partial"))
		time.Sleep(50 * time.Millisecond)
		_ = c.SetLinger(0) // close with RST
		c.Close()
	})
	gw, logs, _ := startGateway(t, failingConfig(backend, time.Second))
	got, after := clientEnd(t, gw, "hello")
	if !bytes.HasPrefix([]byte("partial"), got) {
		t.Errorf("got %q", got)
	}
	if after > 3*time.Second {
		t.Errorf("client closed %v after the backend's reset", after)
	}
	line := summaryWith(t, logs, `"reason":"backend error"`)
	if !strings.Contains(line, "connection reset") {
		t.Errorf("the reason does not name the reset: %s", line)
	}
}

func TestFailingBackendNameDoesNotResolve(t *testing.T) {
	const connectTimeout = 2 * time.Second
	gw, logs, _ := startGateway(t, failingConfig("backend.invalid:9000", connectTimeout), hostsOnly)
	got, after := clientEnd(t, gw, "hello")
	if len(got) != 0 {
		t.Errorf("got %q", got)
	}
	if after > connectTimeout+3*time.Second {
		t.Errorf("client closed after %v; the lookup is bounded by connect_timeout %v", after, connectTimeout)
	}
	line := summaryWith(t, logs, `"reason":"backend unreachable"`, "backend.invalid")
	if !strings.Contains(line, "lookup") && !strings.Contains(line, "no such host") && !strings.Contains(line, "timeout") {
		t.Errorf("the reason does not name the lookup: %s", line)
	}
}

// procCPU returns a process's user+system CPU time in clock ticks.
func procCPU(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat
	st, _ := strconv.ParseInt(f[12], 10, 64) // field 15
	return ut + st
}

// TestFailingDescriptorExhaustion runs the real binary with 64 descriptors,
// fills them with idle relayed connections until accept fails with EMFILE,
// and checks that the accept loop backs off (little CPU over 2 s) and that
// the gateway serves again once the connections close.
func TestFailingDescriptorExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("SKIPPED LOUDLY: prlimit (util-linux) not installed; descriptor exhaustion not tested")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "flashgate")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/flashgate/flashgate/cmd/flashgate").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	port := freePort(t)
	conf := filepath.Join(dir, "flashgate.hcl")
	src := fmt.Sprintf(`
shutdown_timeout = "2s"
log {
  format = "json"
}
backend "echo" {
  builtin = "echo"
}
listener "l" {
  address       = %q
  backend       = "echo"
  sniff_timeout = "100ms"
  idle_timeout  = "5m"
}
`, port)
	if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(prlimit, "--nofile=64:64", "--", bin, "run", "-config", conf)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	echo := func() error {
		c, err := net.DialTimeout("tcp", port, 2*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		_, err = io.ReadFull(c, make([]byte, 4))
		return err
	}
	waitFor(t, func() bool { return echo() == nil }, "the gateway serving")

	// Open echoed connections until one is no longer served: the
	// gateway is out of descriptors. The kernel still completes the
	// handshakes into the accept queue, so the dial itself succeeds.
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	exhausted := false
	for i := 0; i < 200 && !exhausted; i++ {
		c, err := net.DialTimeout("tcp", port, 2*time.Second)
		if err != nil {
			exhausted = true
			break
		}
		conns = append(conns, c)
		_ = c.SetDeadline(time.Now().Add(time.Second))
		c.Write([]byte("ping"))
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			exhausted = true
		}
	}
	if !exhausted {
		t.Fatalf("%d connections served under a limit of 64 descriptors", len(conns))
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "accept failed; backing off") },
		"the accept failure logged")
	if !strings.Contains(logs.String(), "too many open files") {
		t.Errorf("the accept failure is not EMFILE:\n%s", logs.String())
	}

	// Out of descriptors with connections queued: the accept loop must not
	// spin. 2 s of wall time; a busy loop would burn ~200 ticks.
	pid := cmd.Process.Pid
	cpu0 := procCPU(t, pid)
	time.Sleep(2 * time.Second)
	ticks := procCPU(t, pid) - cpu0
	t.Logf("%d connections open; CPU over 2 s while out of descriptors: %d ticks", len(conns), ticks)
	if ticks > 50 {
		t.Errorf("the gateway used %d ticks of CPU in 2 s while out of descriptors: the accept loop spins", ticks)
	}

	// Recovery: close everything; new connections are served again.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitFor(t, func() bool { return echo() == nil }, "serving again after the descriptors are freed")
	select {
	case err := <-exited:
		t.Fatalf("the gateway exited: %v\n%s", err, logs.String())
	default:
	}
}

// TestConfigPolicyFileFIFO: a policy file that is a FIFO is refused at
// once; opening it first would block the loader (and a SIGHUP reload)
// until something writes to it.
func TestConfigPolicyFileFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "crossdomain.xml")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("SKIPPED LOUDLY: mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := config.Parse([]byte("policy \"p\" {\n  file = \"crossdomain.xml\"\n}\n"), filepath.Join(dir, "f.hcl"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("err = %v, want a refusal", err)
		}
	case <-time.After(10 * time.Second):
		// Unblock the loader so the test binary can exit.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		t.Fatal("the loader blocked opening a FIFO policy file")
	}
}

// hostsOnly makes a gateway resolve host names from /etc/hosts only: a name
// not there fails at once, and no DNS query leaves the machine.
func hostsOnly(g *Gateway) {
	g.resolver = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in tests")
	}}
}
