package gateway

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
)

// echoClients holds open relayed connections and checks that each still
// echoes.
type echoClients struct {
	conns []*net.TCPConn
	round int
}

func openEchoClients(t *testing.T, addr string, n int) *echoClients {
	t.Helper()
	ec := &echoClients{conns: make([]*net.TCPConn, n)}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			ec.conns[i] = c.(*net.TCPConn)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		for _, c := range ec.conns {
			if c != nil {
				c.Close()
			}
		}
	})
	ec.check(t)
	return ec
}

// check sends a distinct message on every connection and reads it back.
func (ec *echoClients) check(t *testing.T) {
	t.Helper()
	ec.round++
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	sem := make(chan struct{}, 64)
	for i, c := range ec.conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			msg := fmt.Sprintf("conn %d round %d\n", i, ec.round)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			got := make([]byte, len(msg))
			_, err := c.Write([]byte(msg))
			if err == nil {
				_, err = io.ReadFull(c, got)
			}
			if err != nil || string(got) != msg {
				mu.Lock()
				failed = append(failed, fmt.Sprintf("conn %d: %q %v", i, got, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("round %d: %d of %d connections failed, first: %s", ec.round, len(failed), len(ec.conns), failed[0])
	}
}

func cloneConfig(c *config.Config) *config.Config {
	n := *c
	n.Listeners = nil
	for _, l := range c.Listeners {
		lc := *l
		n.Listeners = append(n.Listeners, &lc)
	}
	n.Backends = nil
	for _, b := range c.Backends {
		bc := *b
		bc.Address = append([]string(nil), b.Address...)
		n.Backends = append(n.Backends, &bc)
	}
	return &n
}

// TestReloadUnderLoad: 1,000 relayed connections stay open and echo through
// three reloads; the kept listener keeps its socket, new connections use the
// new config, nothing is dropped.
func TestReloadUnderLoad(t *testing.T) {
	echo1, echo2 := startBackend(t, echoHandler), startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Admin = &config.Admin{Address: "127.0.0.1:0"}
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{echo1}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*config.Listener{testListener("chat", "", "echo")}
	gw, logs, _ := startGateway(t, cfg)
	addr := gw.Addr("chat").String()
	const n = 1000
	ec := openEchoClients(t, addr, n)
	waitFor(t, func() bool { return gw.status().TotalActive == n }, "1000 active")

	configs := []func(*config.Config){
		func(c *config.Config) { // a second server, least_conn, another idle timeout
			c.Backends[0].Address = append(c.Backends[0].Address, echo2)
			c.Backends[0].Balance = balanceLeastConn
			c.Listeners[0].IdleTimeout = 2 * time.Minute
		},
		func(c *config.Config) { // a listener added beside, limits changed
			c.Listeners[0].MaxConnections = 5000
			c.Listeners = append(c.Listeners, testListener("lobby", "games", "echo"))
		},
		func(c *config.Config) {}, // back to the first config
	}
	for i, change := range configs {
		next := cloneConfig(cfg)
		change(next)
		if err := gw.Reload(next); err != nil {
			t.Fatalf("reload %d: %v", i+1, err)
		}
		if got := gw.Addr("chat").String(); got != addr {
			t.Fatalf("reload %d: chat moved from %s to %s: its socket was not kept", i+1, addr, got)
		}
		ec.check(t)
		// A new connection works under the new config.
		nc := dial(t, gw.Addr("chat"))
		nc.Write([]byte("new"))
		if _, err := io.ReadFull(nc, make([]byte, 3)); err != nil {
			t.Fatalf("reload %d: new connection: %v", i+1, err)
		}
		nc.Close()
		if act := gw.status().Listeners[0].Active; act < n {
			t.Fatalf("reload %d: %d active, want ≥ %d: connections were dropped", i+1, act, n)
		}
	}
	if strings.Count(logs.String(), "config reloaded") != 3 {
		t.Errorf("want 3 'config reloaded' lines")
	}
	if strings.Contains(logs.String(), `"level":"warn"`) {
		t.Errorf("warnings during reload:\n%s", grepLines(logs.String(), `"level":"warn"`))
	}
}

// TestReloadAddRemoveListener: a removed listener stops accepting while its
// open connection keeps working; an added one serves at once; a moved admin
// address moves the admin server.
func TestReloadAddRemoveListener(t *testing.T) {
	echo := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Admin = &config.Admin{Address: "127.0.0.1:0"}
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{echo}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*config.Listener{testListener("a", "", "echo"), testListener("b", "", "echo")}
	gw, _, _ := startGateway(t, cfg)
	oldAdmin := gw.AdminAddr().String()
	bAddr := gw.Addr("b").String()
	held := openEchoClients(t, bAddr, 3)

	next := cloneConfig(cfg)
	next.Listeners = []*config.Listener{next.Listeners[0], testListener("c", "games", "echo")}
	next.Admin = &config.Admin{Address: freePort(t), Token: "t"}
	if err := gw.Reload(next); err != nil {
		t.Fatal(err)
	}
	if gw.Addr("b") != nil || gw.Addr("c") == nil {
		t.Fatal("b should be gone and c there")
	}
	if _, err := net.DialTimeout("tcp", bAddr, time.Second); err == nil {
		t.Fatal("the removed listener still accepts")
	}
	held.check(t) // b's connections drain on their own
	c := dial(t, gw.Addr("c"))
	c.Write(policyRequest)
	if b, _ := io.ReadAll(c); !bytes.Contains(b, []byte("</cross-domain-policy>")) || !bytes.HasSuffix(b, []byte{0}) {
		t.Fatalf("new listener c: %q", b)
	}
	st := gw.status()
	var removed bool
	for _, l := range st.Listeners {
		if l.Name == "b" && l.Removed && l.Active == 3 {
			removed = true
		}
	}
	if !removed {
		t.Fatalf("status should show b removed with 3 draining: %+v", st.Listeners)
	}
	if gw.AdminAddr().String() == oldAdmin {
		t.Fatal("admin did not move")
	}
	if _, err := net.DialTimeout("tcp", oldAdmin, time.Second); err == nil {
		t.Fatal("the old admin address still accepts")
	}
	if code, _ := adminGet(t, gw, "/status", ""); code != 401 {
		t.Fatalf("new token not applied: %d", code)
	}
	for _, h := range held.conns {
		h.Close()
	}
	waitFor(t, func() bool { return len(gw.status().Listeners) == 2 }, "b gone from status after its connections ended")
}

// TestReloadBindFailureKeepsOld: a reload whose new listener cannot bind
// changes nothing.
func TestReloadBindFailureKeepsOld(t *testing.T) {
	echo := startBackend(t, echoHandler)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{echo}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*config.Listener{testListener("a", "", "echo")}
	gw, _, _ := startGateway(t, cfg)
	next := cloneConfig(cfg)
	bad := testListener("x", "", "echo")
	bad.Address = busy.Addr().String()
	next.Listeners = append(next.Listeners, bad)
	next.Listeners[0].Backend = "nope"
	if err := gw.Reload(next); err == nil {
		t.Fatal("reload with an undefined backend succeeded")
	}
	next.Listeners[0].Backend = "echo"
	if err := gw.Reload(next); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("reload onto a busy address: %v", err)
	}
	if gw.Addr("x") != nil || gw.config() != cfg {
		t.Fatal("a failed reload changed the gateway")
	}
	openEchoClients(t, gw.Addr("a").String(), 2)
}

// TestSIGHUPReloadBinary runs the real binary: 100 relayed connections stay
// open through a SIGHUP that adds a listener and one with an invalid config,
// which is logged and changes nothing; SIGTERM then exits 0.
func TestSIGHUPReloadBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "flashgate")
	build := exec.Command("go", "build", "-o", bin, "github.com/flashgate/flashgate/cmd/flashgate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	echo := startBackend(t, echoHandler)
	chat, lobby := freePort(t), freePort(t)
	conf := filepath.Join(dir, "flashgate.hcl")
	write := func(src string) {
		if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := fmt.Sprintf(`
shutdown_timeout = "5s"
log {
  format = "json"
}
backend "echo" {
  address = [%q]
}
listener "chat" {
  address = %q
  backend = "echo"
}
`, echo, chat)
	write(base)
	var logs syncBuffer
	cmd := exec.Command(bin, "run", "-config", conf)
	cmd.Stderr = &logs
	cmd.Stdout = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	})
	waitFor(t, func() bool { return strings.Contains(logs.String(), "flashgate started") }, "the binary to start")
	ec := openEchoClients(t, chat, 100)

	write(base + fmt.Sprintf(`
listener "lobby" {
  address = %q
  backend = "echo"
}
`, lobby))
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(logs.String(), "config reloaded") }, "reload")
	ec.check(t)
	openEchoClients(t, lobby, 3)

	write(base + "\nlistener \"broken\" {\n  address = \"nowhere\"\n  backend = \"missing\"\n}\n")
	_ = cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(logs.String(), "reload refused") }, "the invalid config refused")
	if !strings.Contains(logs.String(), "missing") {
		t.Errorf("the refusal should carry the diagnostics:\n%s", grepLines(logs.String(), "refused"))
	}
	ec.check(t)
	openEchoClients(t, lobby, 3) // the previous config, with lobby, still runs

	for _, c := range ec.conns {
		c.Close()
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// TestReloadWarnsOfLogChanges: a reload does not rebuild the loggers, so a
// changed log block is named in a warning instead of being ignored silently.
func TestReloadWarnsOfLogChanges(t *testing.T) {
	echo := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{echo}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*config.Listener{testListener("a", "", "echo")}
	gw, logs, _ := startGateway(t, cfg)
	same := cloneConfig(cfg)
	if err := gw.Reload(same); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "log level and format") {
		t.Fatalf("warned though the log block did not change:\n%s", logs)
	}
	next := cloneConfig(cfg)
	next.Log.Level = "debug"
	if err := gw.Reload(next); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "log level and format changes take effect at the next start") {
		t.Fatalf("no warning for a changed log level:\n%s", logs)
	}
}
