package tlsterm

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

// TestDialerWorld dials a real loopback TLS server per status word.
func TestDialerWorld(t *testing.T) {
	w := tlstest.NewWorld(t)
	roots, err := LoadCAFile(w.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Status]bool{}
	for _, sc := range w.Scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			mode, err := ParseRevocationMode(sc.Revocation)
			if err != nil {
				t.Fatal(err)
			}
			for _, req := range []Require{RequireTrusted, RequireReport} {
				d := &Dialer{ServerName: sc.ServerName, RootCAs: roots, Require: req, Revocation: mode}
				conn, res, err := d.DialContext(context.Background(), "tcp", sc.Addr)
				if res.Status != Status(sc.Want) {
					t.Fatalf("require %s: status %q, want %s (reason %q, revocation %q, err %v)",
						req, res.Status, sc.Want, res.Detail.Reason, res.Detail.Revocation, err)
				}
				t.Logf("require %s: %s: %s [%s]", req, res.Status, res.Detail.Reason, res.Detail.Revocation)
				if res.Detail.Subject == "" || res.Detail.NotAfter.IsZero() {
					t.Errorf("no detail: %+v", res.Detail)
				}
				trusted := res.Status == Trusted
				if req == RequireTrusted && !trusted {
					if !errors.Is(err, ErrUntrusted) || conn != nil {
						t.Fatalf("err %v, conn %v: want ErrUntrusted and no conn", err, conn)
					}
					var se *StatusError
					if !errors.As(err, &se) || se.Result.Status != res.Status {
						t.Fatalf("err %v does not carry the result", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("require %s: %v", req, err)
				}
				line, err := bufio.NewReader(conn).ReadString('\n')
				conn.Close()
				if err != nil || line != "hello\n" {
					t.Fatalf("read %q, %v", line, err)
				}
			}
			seen[Status(sc.Want)] = true
		})
	}
	for _, s := range Statuses() {
		if !seen[s] {
			t.Errorf("no scenario gave %s", s)
		}
	}
}

func TestDialerConnectError(t *testing.T) {
	d := &Dialer{}
	addr := tlstest.DeadURL(t)[len("http://"):]
	addr = addr[:len(addr)-len("/dead")]
	conn, res, err := d.DialContext(context.Background(), "tcp", addr)
	if err == nil || conn != nil || res.Status != "" || errors.Is(err, ErrUntrusted) {
		t.Fatalf("conn %v res %+v err %v", conn, res, err)
	}
}

func TestLoadCAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadCAFile(filepath.Join(dir, "missing.pem")); err == nil {
		t.Fatal("missing file accepted")
	}
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCAFile(bad); err == nil {
		t.Fatal("non-PEM accepted")
	}
}
