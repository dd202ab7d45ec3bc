// Package redistest starts a real redis-server for tests: on a free
// loopback port, without persistence, in a temporary directory, stopped at
// the end of the test.
//
// Typical use:
//
//	srv := redistest.Start(t) // skips loudly without redis-server, fails in CI
//	st, err := redisstore.NewStorage(redisstore.Config{Address: srv.Addr})
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a running redis-server.
type Server struct {
	Addr   string // 127.0.0.1:port
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{} // closed when the process has exited
	err    error         // its exit status, once exited is closed
}

// Start runs redis-server for the test (stopped in t.Cleanup). Without the
// binary the test is skipped with a loud note, unless CI=true, where it
// fails: CI installs redis-server through .ci/install-peers.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found (CI=true; .ci/install-peers installs it): %v", err)
		}
		fmt.Fprintf(os.Stderr, "\n*** %s: SKIPPED: redis-server is not installed (apt-get install redis-server); the Redis storage is NOT tested ***\n\n", t.Name())
		t.Skipf("SKIPPED LOUDLY: redis-server not found: %v", err)
	}
	dir := t.TempDir()
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(bin, dir, freePort(t))
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		last = err
	}
	t.Fatalf("redis-server: %v", last)
	return nil
}

func start(bin, dir string, port int) (*Server, error) {
	logf, err := os.Create(fmt.Sprintf("%s/redis-%d.log", dir, port))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--daemonize", "no",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, log: logf, exited: make(chan struct{})}
	go func() { s.err = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			logf.Close()
			out, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("exited at start (%v):\n%s", s.err, out)
		default:
		}
		if ping(s.Addr) == nil {
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("no PONG on %s within 10s", s.Addr)
}

// Stop kills the server and waits for it to exit.
func (s *Server) Stop() {
	s.cmd.Process.Kill()
	<-s.exited
	s.log.Close()
}

// ping sends a RESP PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
