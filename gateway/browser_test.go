package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// browserPage opens a WebSocket to the gateway as Ruffle does (binary
// frames, arraybuffer), sends an XML message with its NUL and a 200 KB one
// (Chrome sends that as continuation frames), and reports to /result.
const browserPage = `<!doctype html><html><body><script>
function report(r) { fetch("/result?r=" + encodeURIComponent(r)); }
const ws = new WebSocket("ws://127.0.0.1:%d/chat");
ws.binaryType = "arraybuffer";
let step = 0;
const big = new Uint8Array(200000).fill(120); big[big.length-1] = 0;
ws.onopen = () => ws.send(new TextEncoder().encode("<hello from=\"chromium\"/>\0"));
ws.onmessage = (e) => {
  if (!(e.data instanceof ArrayBuffer)) { report("not binary: " + typeof e.data); return; }
  if (step === 0) {
    const s = new TextDecoder().decode(e.data);
    if (s !== "<hello from=\"chromium\"/>\0") { report("bad echo " + JSON.stringify(s)); return; }
    step = 1; ws.send(big);
  } else {
    report(e.data.byteLength === big.length ? "ok" : "bad big echo " + e.data.byteLength);
  }
};
ws.onerror = () => report("error");
ws.onclose = (e) => { if (step < 2) report("closed " + e.code); };
</script></body></html>`

// chromiumPath returns the browser, or skips loudly (fails under CI).
func chromiumPath(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is missing: .ci/install-peers installs it")
	}
	t.Skip("SKIPPED LOUDLY: /usr/bin/chromium not installed; the real-browser WebSocket test did not run")
	return ""
}

// runBrowser loads url in headless chromium and returns the first result
// the page reports (or "timeout").
func runBrowser(t *testing.T, chromium, url string, results <-chan string) string {
	t.Helper()
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-extensions", "--user-data-dir="+t.TempDir(), url)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // chromium and its helpers, by our group id
		<-done
	}()
	select {
	case r := <-results:
		return r
	case <-done:
		t.Fatalf("chromium exited early:\n%s", out.String())
	case <-time.After(60 * time.Second):
		t.Logf("chromium output:\n%s", out.String())
	}
	return "timeout"
}

func TestBrowserWebSocket(t *testing.T) {
	chromium := chromiumPath(t)
	var accepts atomic.Int32
	backend := startBackend(t, func(c *net.TCPConn) {
		accepts.Add(1)
		echoHandler(c)
	})
	cfg := httpConfig(backend) // the policy allows 127.0.0.1 only
	cfg.Listeners[0].MaxMessage = 1 << 20
	gw, logs, _ := startGateway(t, cfg)
	port := gw.Addr("mux").(*net.TCPAddr).Port

	results := make(chan string, 4)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/result":
			results <- r.URL.Query().Get("r")
		case "/":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, browserPage, port)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(page.Close)
	pagePort := page.Listener.Addr().(*net.TCPAddr).Port

	t.Run("allowed origin", func(t *testing.T) {
		r := runBrowser(t, chromium, fmt.Sprintf("http://127.0.0.1:%d/", pagePort), results)
		if r != "ok" {
			t.Errorf("page reported %q\n%s", r, logs.String())
		}
		if accepts.Load() != 1 {
			t.Errorf("backend connections: %d, want 1", accepts.Load())
		}
	})
	t.Run("refused origin", func(t *testing.T) {
		before := accepts.Load()
		r := runBrowser(t, chromium, fmt.Sprintf("http://localhost:%d/", pagePort), results)
		if r != "error" && !strings.HasPrefix(r, "closed") {
			t.Errorf("page reported %q, want the WebSocket error", r)
		}
		time.Sleep(100 * time.Millisecond)
		if n := accepts.Load() - before; n != 0 {
			t.Errorf("backend saw %d connections from a refused origin", n)
		}
		if !strings.Contains(logs.String(), `"origin":"http://localhost:`) || !strings.Contains(logs.String(), `"status":403`) {
			t.Errorf("no 403 logged for origin localhost:\n%s", logs.String())
		}
	})
}
