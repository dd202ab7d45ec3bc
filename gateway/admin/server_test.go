package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// fakeSource serves a fixed document; draining can be switched.
type fakeSource struct {
	draining atomic.Bool
	calls    atomic.Int64
}

func (f *fakeSource) Draining() bool { return f.draining.Load() }

func (f *fakeSource) Status() *Status {
	f.calls.Add(1)
	return &Status{
		Time:   time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Uptime: "1h0m0s",
		Listeners: []ListenerStatus{{Name: "chat", Address: "127.0.0.1:9000", Active: 7, MaxConnections: 100,
			Policy: "games", Backend: "echo", Connections: map[string]uint64{"data": 5, "policy": 2}}},
		Backends: []BackendStatus{{Name: "echo", Balance: "round_robin", Servers: []ServerStatus{
			{Address: "127.0.0.1:7000", Up: true, Active: 7, LastTLSStatus: "trusted"},
			{Address: "127.0.0.1:7001", LastError: "connection refused"},
		}}},
		Certificates: []Certificate{{Listener: "chat", Names: []string{"<b>x</b>.example"},
			NotAfter: time.Date(2026, 3, 10, 10, 0, 0, 0, time.UTC)}},
		UDP: []UDPStatus{{Name: "voice", Address: "127.0.0.1:9100", Backend: "voice", Sessions: 3, MaxSessions: 10}},
	}
}

// startServer runs a Server on a loopback port until the test ends.
func startServer(t *testing.T, token string) (*Server, *fakeSource) {
	t.Helper()
	return startServerWith(t, Config{Token: token})
}

// startServerWith runs a Server for cfg (address, source, metrics and log
// filled in) until the test ends.
func startServerWith(t *testing.T, cfg Config) (*Server, *fakeSource) {
	t.Helper()
	src := &fakeSource{}
	cfg.Address, cfg.Source, cfg.Log = "127.0.0.1:0", src, zerolog.Nop()
	if cfg.Metrics == nil {
		cfg.Metrics = newTestMetrics(Gauges{})
	}
	s, err := Listen(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s, src
}

// get fetches path with an optional bearer token.
func get(t *testing.T, s *Server, path, token string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr().String()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// do sends a GET to path with the Authorization header auth ("" for none).
func do(t *testing.T, s *Server, path, auth string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr().String()+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestServerToken(t *testing.T) {
	s, _ := startServerWith(t, Config{Token: "s3cret", Pprof: true})
	basic := func(user, password string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
	}
	wantChallenges := []string{`Basic realm="flashgate"`, `Bearer realm="flashgate"`}
	for _, path := range []string{"/", "/status", "/status/history", "/metrics", "/debug/pprof/"} {
		for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Bearer s3cre", "Bearer s3cret2", "s3cret",
			"Token s3cret", basic("admin", "wrong"), basic("s3cret", ""), basic("", "s3cret2"), "Basic s3cret", "Basic !!"} {
			resp := do(t, s, path, auth)
			if resp.StatusCode != http.StatusUnauthorized || !slices.Equal(resp.Header.Values("WWW-Authenticate"), wantChallenges) {
				t.Errorf("%s with %q: %d %q, want 401 with %q", path, auth, resp.StatusCode,
					resp.Header.Values("WWW-Authenticate"), wantChallenges)
			}
		}
		for _, auth := range []string{"Bearer s3cret", "bearer s3cret", "BEARER s3cret", "Bearer  s3cret ",
			basic("admin", "s3cret"), basic("", "s3cret"), basic("any one", "s3cret"), "basic " + base64.StdEncoding.EncodeToString([]byte("x:s3cret"))} {
			if resp := do(t, s, path, auth); resp.StatusCode != http.StatusOK {
				t.Errorf("%s with %q: %d, want 200", path, auth, resp.StatusCode)
			}
		}
		// As curl -u sends it.
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr().String()+path, nil)
		req.SetBasicAuth("ops", "s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s with SetBasicAuth: %d", path, resp.StatusCode)
		}
		// As a browser sends it: credentials in the URL.
		resp, err = http.Get("http://ops:s3cret@" + s.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s with user:token@ in the URL: %d", path, resp.StatusCode)
		}
	}
	if resp, body := get(t, s, "/healthz", ""); resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz without token: %d %q, want 200 ok", resp.StatusCode, body)
	}
	if resp, _ := get(t, s, "/nope", "s3cret"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", resp.StatusCode)
	}
	s.SetToken("other")
	if resp, _ := get(t, s, "/status", "s3cret"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old token after SetToken: %d, want 401", resp.StatusCode)
	}
	if resp, _ := get(t, s, "/status", "other"); resp.StatusCode != http.StatusOK {
		t.Errorf("the new token: %d, want 200", resp.StatusCode)
	}
	s.SetToken("")
	if resp, _ := get(t, s, "/status", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("no token after SetToken(\"\"): %d, want 200", resp.StatusCode)
	}
}

func TestServerHealthz(t *testing.T) {
	s, src := startServer(t, "")
	src.draining.Store(true)
	resp, body := get(t, s, "/healthz", "")
	if resp.StatusCode != http.StatusServiceUnavailable || body != "draining\n" {
		t.Errorf("/healthz while draining: %d %q, want 503 draining", resp.StatusCode, body)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}

// TestServerStatusJSON: the field names are a contract, and the document
// is tallied before it is served.
func TestServerStatusJSON(t *testing.T) {
	s, _ := startServer(t, "")
	resp, body := get(t, s, "/status", "")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	for _, k := range []string{"time", "uptime", "draining", "listeners", "backends", "certificates", "udp"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("status lacks %q", k)
		}
	}
	for _, want := range []string{`"name": "chat"`, `"address": "127.0.0.1:9000"`, `"active": 7`, `"max_connections": 100`,
		`"max_connections_per_ip": 0`, `"policy": "games"`, `"connections_total": {`, `"policy_answers_total": 0`,
		`"rejections_total": {}`, `"last_tls_status": "trusted"`, `"last_error": "connection refused"`,
		`"days_left": 9`, `"not_after": "2026-03-10T10:00:00Z"`, `"sessions": 3`, `"max_sessions": 10`} {
		if !strings.Contains(body, want) {
			t.Errorf("status lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "TotalActive") || strings.Contains(body, "RefreshSeconds") {
		t.Errorf("page-only fields in the JSON:\n%s", body)
	}
}

func TestServerPage(t *testing.T) {
	s, _ := startServer(t, "")
	resp, body := get(t, s, "/", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!strings.HasPrefix(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("page: %d %v", resp.StatusCode, resp.Header)
	}
	for _, want := range []string{
		`http-equiv="refresh" content="5"`,
		`id="total-active" data-value="7"`,
		`id="servers-up" data-up="1" data-total="2"`,
		`id="certs-expiring" data-value="1"`,
		`id="udp-sessions" data-value="3"`,
		`data-connections="7"`,
		"policy 2 · data 5", // kinds in the Metrics' order, not the map's
		"● down",
		`data-days-left="9"`,
		"&lt;b&gt;x&lt;/b&gt;.example", // names are escaped
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestServerLifecycle(t *testing.T) {
	if _, err := Listen(context.Background(), Config{Address: "127.0.0.1:0"}); err == nil {
		t.Error("Listen without a Source or Metrics succeeded")
	}
	m := newTestMetrics(Gauges{})
	s, err := Listen(context.Background(), Config{Address: "127.0.0.1:0", Source: &fakeSource{}, Metrics: m, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if s.Address() != "127.0.0.1:0" || strings.HasSuffix(s.Addr().String(), ":0") {
		t.Errorf("Address %q, Addr %v", s.Address(), s.Addr())
	}
	// The same address again cannot be bound while s holds it.
	if _, err := Listen(context.Background(), Config{Address: s.Addr().String(), Source: &fakeSource{}, Metrics: m}); err == nil ||
		!strings.Contains(err.Error(), "admin: listen") {
		t.Errorf("second Listen on %s: %v", s.Addr(), err)
	}
	// A server never started closes at once and frees its port.
	addr := s.Addr().String()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	s2, err := Listen(context.Background(), Config{Address: addr, Source: &fakeSource{}, Metrics: m})
	if err != nil {
		t.Fatalf("port not freed by Close: %v", err)
	}
	s2.Start()
	s2.Stop()
	if _, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/healthz"); err == nil {
		t.Error("served after Stop")
	}
}

// TestServerPprof: the profiler is served only when asked for, and then
// behind the token like the rest.
func TestServerPprof(t *testing.T) {
	for _, token := range []string{"", "s3cret"} {
		off, _ := startServerWith(t, Config{Token: token})
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine", "/debug/pprof/profile", "/debug/pprof/trace"} {
			if resp, _ := get(t, off, path, token); resp.StatusCode != http.StatusNotFound {
				t.Errorf("pprof off, token %q: %s answered %d, want 404", token, path, resp.StatusCode)
			}
		}
		on, _ := startServerWith(t, Config{Token: token, Pprof: true})
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1"} {
			if resp, body := get(t, on, path, token); resp.StatusCode != http.StatusOK || body == "" {
				t.Errorf("pprof on, token %q: %s answered %d", token, path, resp.StatusCode)
			}
		}
		if token != "" {
			if resp, _ := get(t, on, "/debug/pprof/heap", ""); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("pprof on without the token: %d, want 401", resp.StatusCode)
			}
		}
	}
}

// TestServerBuildInfo: the build is in /status, on the page and in
// flashgate_build_info.
func TestServerBuildInfo(t *testing.T) {
	s, _ := startServer(t, "")
	b := ReadBuild()
	_, body := get(t, s, "/status", "")
	var doc struct{ Version string }
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Version == "" || doc.Version != b.String() {
		t.Errorf("/status version %q (%v), want %q", doc.Version, err, b.String())
	}
	if _, page := get(t, s, "/", ""); !strings.Contains(page, `<span id="version">`+b.String()+`</span>`) {
		t.Errorf("page lacks the version %q", b.String())
	}
	_, metrics := get(t, s, "/metrics", "")
	want := `flashgate_build_info{goversion="` + b.GoVersion + `",revision="` + b.Revision + `",version="` + b.Version + `"} 1`
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
}
