package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestBehindHAProxy runs examples/haproxy as written (ports moved to free
// ones): HAProxy on 127.0.0.1 sends PROXY v2 to flashgate A on 127.0.0.2 and
// B on 127.0.0.3, health-checking /healthz on their admin addresses.
// Clients echo through HAProxy in a loop; A gets SIGTERM mid-run. Every
// client is served (by B once A is gone), and B's connection log names
// each client by its real address: the local port the client saw, not
// HAProxy's.
func TestBehindHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs HAProxy and two flashgate processes for a few seconds")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("haproxy not found (CI=true; .ci/install-peers installs it): %v", err)
		}
		fmt.Fprintf(os.Stderr, "\n*** %s: SKIPPED: haproxy is not installed (apt-get install haproxy) ***\n\n", t.Name())
		t.Skipf("SKIPPED LOUDLY: haproxy not found: %v", err)
	}
	bin := buildFlashgate(t)
	dir := t.TempDir()
	ips := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	port := freePortOnAll(t, ips)
	adminPort := freePortOnAll(t, ips[1:])
	example := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "haproxy", name))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), ":9000", ":"+strconv.Itoa(port))
		s = strings.ReplaceAll(s, ":9843", ":"+strconv.Itoa(adminPort))
		s = strings.ReplaceAll(s, "port 9843", "port "+strconv.Itoa(adminPort))
		s = strings.ReplaceAll(s, `ports  = "9000"`, fmt.Sprintf(`ports  = "%d"`, port))
		path := filepath.Join(dir, name)
		writeFile(t, path, s)
		return path
	}
	a := startInstance(t, "A", bin, example("flashgate-a.hcl"), fmt.Sprintf("127.0.0.2:%d", adminPort))
	b := startInstance(t, "B", bin, example("flashgate-b.hcl"), fmt.Sprintf("127.0.0.3:%d", adminPort))

	hcfg := example("haproxy.cfg")
	if out, err := exec.Command(haproxy, "-c", "-f", hcfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	hlog := &lockedBuffer{}
	hp := exec.Command(haproxy, "-db", "-f", hcfg)
	hp.Stdout, hp.Stderr = hlog, hlog
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	hpDone := make(chan struct{})
	go func() { hp.Wait(); close(hpDone) }()
	t.Cleanup(func() {
		hp.Process.Kill()
		<-hpDone
		if t.Failed() {
			t.Logf("haproxy log:\n%s", tailString(hlog.String(), 3000))
		}
	})
	front := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for echoOnce(front, []byte("ready?\n")) != nil {
		select {
		case <-hpDone:
			t.Fatalf("haproxy exited at start")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no echo through HAProxy within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Clients: short echo connections through HAProxy; each remembers its
	// own local address (its real address) and when it connected.
	type served struct {
		local string
		at    time.Time
	}
	var (
		mu       sync.Mutex
		ok       []served
		failures []string
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				at := time.Now()
				local, err := echoFrom(front, fmt.Appendf(nil, "client %d message %d\n", w, i))
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					ok = append(ok, served{local, at})
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	if err := a.signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(15 * time.Second); code != 0 {
		t.Fatalf("A exited with %d after SIGTERM", code)
	}
	aGone := time.Now()
	time.Sleep(2500 * time.Millisecond) // HAProxy marks A down; B serves alone
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if len(failures) > 0 {
		t.Errorf("%d of %d client connections failed: %q", len(failures), len(failures)+len(ok), failures[:min(5, len(failures))])
	}
	seenA, seenB := clientSet(a.closedConns()), clientSet(b.closedConns())
	var before, after, afterInB, inEither int
	for _, s := range ok {
		if seenA[s.local] || seenB[s.local] {
			inEither++
		}
		if s.at.After(aGone) {
			after++
			if seenB[s.local] {
				afterInB++
			}
		} else {
			before++
		}
	}
	t.Logf("clients served: %d before A exited, %d after; logged by A %d, by B %d; %d of %d real client addresses found in the logs",
		before, after, len(seenA), len(seenB), inEither, len(ok))
	if after == 0 || afterInB != after {
		t.Errorf("after A exited, %d clients were served and B logged %d of their addresses", after, afterInB)
	}
	if len(seenA) == 0 {
		t.Error("A logged no client before its stop: did HAProxy balance?")
	}
	// Every logged client address is the client's own (127.0.0.1:its
	// port): without the PROXY header flashgate would log HAProxy's.
	if inEither != len(ok) {
		t.Errorf("only %d of %d client addresses appear in the instances' logs", inEither, len(ok))
	}
	// B's log names A as down (HAProxy's view, for the record).
	if !strings.Contains(hlog.String(), "flashgate/a is DOWN") {
		t.Logf("HAProxy did not log server a DOWN (stopped before its checks failed twice?)")
	}
}

// echoFrom is echoOnce that also returns the client's local address.
func echoFrom(addr string, msg []byte) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(msg); err != nil {
		return local, fmt.Errorf("write: %w", err)
	}
	got := make([]byte, len(msg))
	n := 0
	for n < len(got) {
		m, err := c.Read(got[n:])
		n += m
		if err != nil {
			return local, fmt.Errorf("read after %d bytes: %w", n, err)
		}
	}
	if string(got) != string(msg) {
		return local, fmt.Errorf("echo %q, sent %q", got, msg)
	}
	return local, nil
}

// clientSet is the set of client addresses in connection summary lines.
func clientSet(lines []logLine) map[string]bool {
	m := map[string]bool{}
	for _, l := range lines {
		m[l.Client] = true
	}
	return m
}

// freePortOnAll finds a port free on every one of the loopback ips.
func freePortOnAll(t *testing.T, ips []string) int {
	t.Helper()
	for range 50 {
		p := freeLoopbackPort(t)
		free := true
		for _, ip := range ips {
			ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
			if err != nil {
				free = false
				break
			}
			ln.Close()
		}
		if free {
			return p
		}
	}
	t.Fatal("no port free on all of", ips)
	return 0
}
