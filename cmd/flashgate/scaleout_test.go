package main

// Helpers for the scale-out tests (upgrade_test.go, haproxy_test.go): they
// build the flashgate binary and run real processes on loopback.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildFlashgate builds this command into a temporary directory, with extra
// go build flags if given.
func buildFlashgate(t *testing.T, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "flashgate")
	args := append(append([]string{"build"}, flags...), "-o", bin, ".")
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeLoopbackPort returns a loopback port nothing listens on (just released).
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lockedBuffer is a bytes.Buffer safe for a process's stderr and readers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// instance is a running "flashgate run" process.
type instance struct {
	name   string
	cmd    *exec.Cmd
	admin  string // admin address, for /healthz
	log    *lockedBuffer
	exited chan struct{}
	err    error // exit status, once exited is closed
}

// startInstance runs bin with the config at path and waits until its
// /healthz on admin answers 200 (at most 15 s).
func startInstance(t *testing.T, name, bin, path, admin string) *instance {
	t.Helper()
	in := &instance{name: name, admin: admin, log: &lockedBuffer{}, exited: make(chan struct{})}
	in.cmd = exec.Command(bin, "run", "-config", path)
	in.cmd.Stdout = in.log
	in.cmd.Stderr = in.log
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { in.err = in.cmd.Wait(); close(in.exited) }()
	t.Cleanup(func() {
		select {
		case <-in.exited:
		default:
			in.cmd.Process.Kill()
			<-in.exited
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", in.name, tailString(in.log.String(), 3000))
		}
	})
	if err := in.waitReady(15 * time.Second); err != nil {
		t.Fatalf("%s: %v\nlog:\n%s", name, err, in.log.String())
	}
	return in
}

// waitReady polls /healthz until it answers 200.
func (in *instance) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-in.exited:
			return fmt.Errorf("exited before ready: %v", in.err)
		default:
		}
		resp, err := client.Get("http://" + in.admin + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("/healthz on %s not 200 within %v", in.admin, timeout)
}

func (in *instance) signal(sig syscall.Signal) error { return in.cmd.Process.Signal(sig) }

// wait waits for the process to exit and returns its exit code (-1 when it
// did not exit within timeout).
func (in *instance) wait(timeout time.Duration) int {
	select {
	case <-in.exited:
		return in.cmd.ProcessState.ExitCode()
	case <-time.After(timeout):
		return -1
	}
}

// logLine is the part of a JSON log line the tests read.
type logLine struct {
	Level    string `json:"level"`
	Message  string `json:"message"`
	Listener string `json:"listener"`
	Client   string `json:"client"`
	Reason   string `json:"reason"`
}

// logLines parses the instance's JSON log lines (other lines are skipped).
func (in *instance) logLines() []logLine {
	var out []logLine
	sc := bufio.NewScanner(strings.NewReader(in.log.String()))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// closedConns returns the connection summary lines of the instance.
func (in *instance) closedConns() []logLine {
	var out []logLine
	for _, l := range in.logLines() {
		if l.Message == "connection closed" {
			out = append(out, l)
		}
	}
	return out
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
