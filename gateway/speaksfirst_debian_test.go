package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
)

// TestDovecotPOP3WithCurl: a real speaking-first server (Debian's dovecot
// POP3) behind flashgate, with Debian's curl as the client, once through a
// multiplexed listener (a policy, so the silent client's connection is routed
// after sniff_timeout) and once through a transparent listener (no policy, so
// the backend is dialed at once). curl logs in, retrieves a message dropped
// into the maildir and must print it; the gateway must log one summary line
// naming the backend with bytes in both directions.
func TestDovecotPOP3WithCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		missingPeer(t, "curl", "curl")
	}
	dovecot, err := exec.LookPath("dovecot")
	if err != nil {
		dovecot, err = exec.LookPath("/usr/sbin/dovecot") // not on a non-root PATH
	}
	if err != nil {
		missingPeer(t, "dovecot", "dovecot-pop3d")
	}
	if _, err := os.Stat("/usr/lib/dovecot/pop3"); err != nil { // Debian's path
		missingPeer(t, "dovecot's POP3 server", "dovecot-pop3d")
	}
	addr, body := startDovecot(t, dovecot)

	tests := []struct {
		name, policy, kind string
		sniff              time.Duration
	}{
		{"multiplexed", "games", "silent", 300 * time.Millisecond},
		// A sniffing listener would hold the greeting for 30 s, past curl's
		// --max-time.
		{"transparent", "", "raw", 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Backends = []*config.Backend{{Name: "pop", Address: []string{addr}, ConnectTimeout: 5 * time.Second}}
			l := testListener(tt.name, tt.policy, "pop")
			l.SniffTimeout = tt.sniff
			cfg.Listeners = []*config.Listener{l}
			gw, logs, stop := startGateway(t, cfg)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			out, err := exec.CommandContext(ctx, curl, "-sS", "--max-time", "10", "-u", "user:pass",
				"pop3://"+gw.Addr(tt.name).String()+"/1").CombinedOutput()
			took := time.Since(start)
			if err != nil {
				t.Fatalf("curl after %v: %v\n%s\ngateway log:\n%s", took, err, out, logs)
			}
			if !strings.Contains(string(out), body) {
				t.Errorf("curl printed %q, want the message containing %q", out, body)
			}
			t.Logf("curl retrieved the message in %v (sniff_timeout %v)", took, tt.sniff)
			if tt.policy != "" && took < tt.sniff {
				t.Errorf("exchange took %v, less than sniff_timeout %v: the greeting did not wait for it", took, tt.sniff)
			}

			stop()
			var sums []map[string]any
			sc := bufio.NewScanner(strings.NewReader(logs.String()))
			for sc.Scan() {
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) == nil && m["message"] == "connection closed" && m["listener"] == tt.name {
					sums = append(sums, m)
				}
			}
			if len(sums) != 1 {
				t.Fatalf("%d summary lines for listener %s, want 1:\n%s", len(sums), tt.name, logs)
			}
			s := sums[0]
			if s["kind"] != tt.kind || s["backend"] != addr {
				t.Errorf("summary kind %v backend %v, want %s %s: %v", s["kind"], s["backend"], tt.kind, addr, s)
			}
			if up, _ := s["bytes_up"].(float64); up <= 0 {
				t.Errorf("summary bytes_up %v: %v", s["bytes_up"], s)
			}
			if down, _ := s["bytes_down"].(float64); down <= float64(len(body)) {
				t.Errorf("summary bytes_down %v, want more than the message: %v", s["bytes_down"], s)
			}
		})
	}
}

// missingPeer skips loudly, or fails under CI, where .ci/install-peers
// installs pkg.
func missingPeer(t *testing.T, cmd, pkg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (.ci/install-peers installs %s)", cmd, pkg)
	}
	t.Skipf("SKIPPED LOUDLY: %s not installed (apt-get install %s); the real speaking-first server was not tested", cmd, pkg)
}

// startDovecot runs dovecot in the foreground with its own config, sockets,
// state and maildir under t.TempDir(), serving POP3 on a free loopback port
// to user "user" with password "pass" (static passdb). One message is in the
// maildir; it returns the address and the message's unique body line.
//
// As root the login, internal and mail processes run as nobody:nogroup; as
// any other user they run as that user (dovecot's rootless mode), so the
// same config works both ways. No chroot, since rootless dovecot cannot.
func startDovecot(t *testing.T, dovecot string) (addr, body string) {
	t.Helper()
	runUser, runGroup := "nobody", "nogroup"
	if os.Geteuid() != 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			t.Fatal(err)
		}
		runUser, runGroup = u.Username, g.Name
	}
	u, err := user.Lookup(runUser)
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroup(runGroup)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(g.Gid)

	dir := t.TempDir()
	// t.TempDir's parent is 0700; the mail process (nobody) must reach
	// the maildir below it.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	maildir := filepath.Join(dir, "mail", "user", "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(maildir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	body = fmt.Sprintf("flashgate relayed dovecot %d", time.Now().UnixNano())
	msg := "From: test@example.com\r\nSubject: speaks first\r\n\r\n" + body + "\r\n"
	if err := os.WriteFile(filepath.Join(maildir, "new", "1.M1.flashgate"), []byte(msg), 0o600); err != nil {
		t.Fatal(err)
	}
	err = filepath.Walk(filepath.Join(dir, "mail"), func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}

	addr = freePort(t)
	host, port, _ := net.SplitHostPort(addr)
	logFile := filepath.Join(dir, "dovecot.log")
	conf := fmt.Sprintf(`protocols = pop3
listen = %[1]s
base_dir = %[3]s/run
state_dir = %[3]s/state
instance_name = flashgate-test
log_path = %[4]s
ssl = no
disable_plaintext_auth = no
login_trusted_networks = 127.0.0.0/8
default_login_user = %[5]s
default_internal_user = %[5]s
default_internal_group = %[6]s
first_valid_uid = 1
mail_location = maildir:%[3]s/mail/%%u/Maildir
passdb {
  driver = static
  args = password=pass
}
userdb {
  driver = static
  args = uid=%[5]s gid=%[6]s home=%[3]s/mail/%%u
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = %[1]s
    port = %[2]s
  }
  inet_listener pop3s {
    port = 0
  }
}
service imap-login {
  chroot =
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
}
service anvil {
  chroot =
}
`, host, port, dir, logFile, runUser, runGroup)
	confFile := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(dovecot, "-F", "-c", confFile)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its children too, for the cleanup
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.WaitDelay = 2 * time.Second // a child that kept the pipe does not hang Wait
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		// SIGTERM lets the master stop its children and remove its
		// sockets; the group kill is for anything left after 5 s.
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			t.Logf("dovecot (pid %d) ignored SIGTERM; killing its process group", pid)
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	})
	diag := func() string {
		b, _ := os.ReadFile(logFile)
		return fmt.Sprintf("dovecot stderr:\n%s\ndovecot log:\n%s", stderr.String(), b)
	}

	// Ready when it greets; fail early if it exits.
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("dovecot exited at startup: %v\n%s", cmd.ProcessState, diag())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, rerr := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+OK") {
				return addr, body
			}
			err = errors.Join(fmt.Errorf("greeting %q", line), rerr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("dovecot not ready on %s: %v\n%s", addr, err, diag())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
