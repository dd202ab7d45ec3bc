package gateway

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// adminGet fetches path from the gateway's admin server with an optional
// bearer token and returns the status code and body.
func adminGet(t *testing.T, gw *Gateway, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+gw.AdminAddr().String()+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminToken(t *testing.T) {
	cfg := testConfig()
	cfg.Admin = &AdminConfig{Address: "127.0.0.1:0", Token: "s3cret"}
	cfg.Listeners = []*ListenerConfig{testListener("master", "games", "")}
	gw, _, _ := startGateway(t, cfg)
	for _, path := range []string{"/", "/status", "/metrics"} {
		for _, tok := range []string{"", "wrong", "s3cre", "s3cret2"} {
			if code, _ := adminGet(t, gw, path, tok); code != http.StatusUnauthorized {
				t.Errorf("%s with token %q: %d, want 401", path, tok, code)
			}
		}
		if code, body := adminGet(t, gw, path, "s3cret"); code != http.StatusOK {
			t.Errorf("%s with the token: %d %s", path, code, body)
		}
	}
	if code, body := adminGet(t, gw, "/healthz", ""); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz without token: %d %q, want 200 ok", code, body)
	}
	if code, _ := adminGet(t, gw, "/nope", "s3cret"); code != http.StatusNotFound {
		t.Errorf("/nope: %d, want 404", code)
	}
}

func TestAdminMetricsAndStatus(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Admin = &AdminConfig{Address: "127.0.0.1:0"}
	cfg.Backends = []*BackendConfig{{Name: "echo", Address: []string{backend}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*ListenerConfig{testListener("chat", "games", "echo"), testListener("master", "games", "")}
	cfg.UDP = []*UDPConfig{{Name: "voice", Address: "127.0.0.1:0", Backend: "echo", MaxSessions: 100}}
	gw, _, _ := startGateway(t, cfg)

	// One policy answer, one relayed connection left open.
	c := dial(t, gw.Addr("master"))
	c.Write(policyRequest)
	io.ReadAll(c)
	r := dial(t, gw.Addr("chat"))
	r.Write([]byte("hello"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatal(err)
	}
	u := gw.udpMetrics("voice", "127.0.0.1:5555")
	u.SessionOpened()
	u.Datagram(true, 3)
	u.Drop("max_sessions")
	gw.observeBackendTLS("echo", backend, "untrustedSigners")

	waitFor(t, func() bool {
		_, m := adminGet(t, gw, "/metrics", "")
		return strings.Contains(m, `flashgate_policy_answers_total{listener="master"} 1`)
	}, "policy answer counted")
	_, m := adminGet(t, gw, "/metrics", "")
	for _, want := range []string{
		`flashgate_connections_total{kind="policy",listener="master"} 1`,
		`flashgate_connections_active{listener="chat"} 1`,
		`flashgate_backend_up{backend="echo",server="0"} 1`,
		`flashgate_backend_connections_active{backend="echo",server="0"} 1`,
		`flashgate_tls_backend_status_total{backend="echo",status="untrustedSigners"} 1`,
		`flashgate_udp_sessions_active{udp="voice"} 1`,
		`flashgate_udp_datagrams_total{direction="up",udp="voice"} 3`,
		`flashgate_udp_drops_total{reason="max_sessions",udp="voice"} 1`,
		`flashgate_rejections_total{listener="chat",reason="max_connections"} 0`,
		"go_goroutines", "process_open_fds",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, "127.0.0.1") {
		t.Errorf("an address leaked into metric labels:\n%s", grepLines(m, "127.0.0.1"))
	}

	_, body := adminGet(t, gw, "/status", "")
	var st struct {
		Listeners []struct {
			Name    string `json:"name"`
			Address string `json:"address"`
			Active  int64  `json:"active"`
		} `json:"listeners"`
		Backends []struct {
			Name    string `json:"name"`
			Servers []struct {
				Address       string `json:"address"`
				Up            bool   `json:"up"`
				Active        int64  `json:"active"`
				LastTLSStatus string `json:"last_tls_status"`
			} `json:"servers"`
		} `json:"backends"`
		Certificates []any `json:"certificates"`
		UDP          []struct {
			Name     string `json:"name"`
			Sessions int64  `json:"sessions"`
		} `json:"udp"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, body)
	}
	if len(st.Listeners) != 2 || st.Listeners[0].Name != "chat" || st.Listeners[0].Active != 1 ||
		st.Listeners[0].Address != gw.Addr("chat").String() {
		t.Errorf("listeners: %+v", st.Listeners)
	}
	if len(st.Backends) != 1 || len(st.Backends[0].Servers) != 1 || !st.Backends[0].Servers[0].Up ||
		st.Backends[0].Servers[0].Active != 1 || st.Backends[0].Servers[0].LastTLSStatus != "untrustedSigners" {
		t.Errorf("backends: %+v", st.Backends)
	}
	if st.Certificates == nil || len(st.UDP) != 1 || st.UDP[0].Sessions != 1 {
		t.Errorf("certificates %v, udp %+v", st.Certificates, st.UDP)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestHealthzDrains: while shutting down with connections open, /healthz
// answers 503 so a load balancer stops sending.
func TestHealthzDrains(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.ShutdownTimeout = 3 * time.Second
	cfg.Admin = &AdminConfig{Address: "127.0.0.1:0"}
	cfg.Backends = []*BackendConfig{{Name: "echo", Address: []string{backend}, ConnectTimeout: time.Second}}
	cfg.Listeners = []*ListenerConfig{testListener("chat", "", "echo")}
	gw, _, stop := startGateway(t, cfg)
	admin := gw.AdminAddr().String()
	c := dial(t, gw.Addr("chat"))
	c.Write([]byte("x"))
	io.ReadFull(c, make([]byte, 1))
	go stop()
	waitFor(t, func() bool {
		resp, err := http.Get("http://" + admin + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	}, "/healthz 503 while draining")
	c.Close()
}

// TestLimits: max_connections and max_connections_per_ip close the
// connection at once (a reset), count it by reason and log at a bounded
// rate.
func TestLimits(t *testing.T) {
	backend := startBackend(t, echoHandler)
	for _, tc := range []struct {
		name           string
		total, perIP   int
		reason         string
		addrs          []string // source addresses of the connections that fill the limit
		rejectFrom     string
		acceptedBeside string // another source still accepted, or ""
	}{
		{"total", 3, 0, rejectMaxConns, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, "127.0.0.4", ""},
		{"per-ip", 0, 2, rejectMaxPerIP, []string{"127.0.0.1", "127.0.0.1"}, "127.0.0.1", "127.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Backends = []*BackendConfig{{Name: "echo", Address: []string{backend}, ConnectTimeout: time.Second}}
			l := testListener("chat", "", "echo")
			l.MaxConnections, l.MaxConnectionsPerIP = tc.total, tc.perIP
			cfg.Listeners = []*ListenerConfig{l}
			gw, logs, _ := startGateway(t, cfg)
			from := func(src string) (*net.TCPConn, error) {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
				c, err := d.Dial("tcp", gw.Addr("chat").String())
				if err != nil {
					return nil, err // a reset can beat the dial's return
				}
				t.Cleanup(func() { c.Close() })
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				return c.(*net.TCPConn), nil
			}
			echoes := func(c *net.TCPConn, err error) error {
				if err != nil {
					return err
				}
				if _, err := c.Write([]byte("ping")); err != nil {
					return err
				}
				_, err = io.ReadFull(c, make([]byte, 4))
				return err
			}
			for _, a := range tc.addrs {
				if err := echoes(from(a)); err != nil {
					t.Fatalf("within the limit, from %s: %v", a, err)
				}
			}
			const extra = 20
			for range extra {
				if err := echoes(from(tc.rejectFrom)); err == nil {
					t.Fatalf("over the limit, from %s: served", tc.rejectFrom)
				}
			}
			if tc.acceptedBeside != "" {
				if err := echoes(from(tc.acceptedBeside)); err != nil {
					t.Fatalf("another address, %s: %v", tc.acceptedBeside, err)
				}
			}
			waitFor(t, func() bool { return gw.status().Listeners[0].Rejections[tc.reason] == extra },
				"every rejection counted")
			if n := strings.Count(logs.String(), "connection rejected"); n < 1 || n > 3 {
				t.Fatalf("%d rejection lines for %d rejections in well under a second; want a bounded few", n, extra)
			}
		})
	}
}
