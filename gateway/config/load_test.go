package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/flashgate/flashgate/policyfile"
)

// writeConfig writes src as config.hcl, and extra files beside it, into a
// fresh temporary directory and returns the config's path.
func writeConfig(t *testing.T, src string, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, src string, extra map[string]string) *Config {
	t.Helper()
	path := writeConfig(t, src, extra)
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return cfg
}

// clearRanges zeroes the source ranges, which the expected values leave out.
func clearRanges(cfg *Config) {
	for _, p := range cfg.Policies {
		p.DefRange = hcl.Range{}
		for i := range p.Allow {
			p.Allow[i].Range = hcl.Range{}
		}
	}
	for _, l := range cfg.Listeners {
		l.DefRange = hcl.Range{}
		for _, ws := range l.WebSockets {
			ws.DefRange = hcl.Range{}
		}
	}
	for _, b := range cfg.Backends {
		b.DefRange = hcl.Range{}
	}
	for _, u := range cfg.UDP {
		u.DefRange = hcl.Range{}
	}
}

const legacyPolicy = `<?xml version="1.0"?>
<cross-domain-policy>
  <site-control permitted-cross-domain-policies="all"/>
  <allow-access-from domain="*.example.org" to-ports="9000"/>
</cross-domain-policy>
`

// fullConfig uses every kind of block the loader knows.
const fullConfig = `
shutdown_timeout = "45s"

log {
  level  = "debug"
  format = "json"
}

admin {
  address = "127.0.0.1:0"
  token   = env("FLASHGATE_TEST_ADMIN_TOKEN")
}

acme {
  email   = "ops@example.com"
  ca      = "https://acme.example/directory"
  ca_root = "ca-api-root.pem"
  storage = "/var/lib/flashgate"
}

policy "games" {
  site_control = "master-only"
  allow {
    domain = "*.example.com"
    ports  = "9000-9010,9443"
    secure = false
  }
  allow {
    domain = "203.0.113.7"
    ports  = "*"
  }
}

policy "legacy" {
  file = "legacy-crossdomain.xml"
}

listener "master" {
  address = "[::]:843"
  policy  = "games"
}

listener "chat" {
  address       = "[::]:9000"
  policy        = "games"
  backend       = "chat"
  protocol      = "xml"
  sniff_timeout = "250ms"
  idle_timeout  = "5m"
  max_message   = "64KiB"
  max_connections        = 5000
  max_connections_per_ip = 100
  proxy_protocol = "v2"
  reuse_port     = true

  tls {
    cert_file   = "chat.pem"
    key_file    = "chat.key"
    certificate {
      cert_file = "lobby.pem"
      key_file  = "/etc/flashgate/lobby.key"
    }
    min_version = "1.0"
  }

  websocket "/chat" {}
  websocket "/lobby" {
    backend  = "lobby"
    protocol = "binary"
  }
}

listener "secure" {
  address = "127.0.0.1:0"
  backend = "lobby"
  tls {
    acme = ["games.example.com", "chat.example.com"]
  }
}

backend "chat" {
  address         = ["10.0.0.5:5000", "chat-b.internal:5000"]
  connect_timeout = "2s"
  proxy_protocol  = "v1"
  framing         = "line"
  balance         = "least_conn"
  health_check {
    interval = "10s"
  }
  tls {
    server_name = "chat.internal"
    ca_file     = "internal-ca.pem"
    require     = "report"
    revocation  = "required"
  }
}

backend "lobby" {
  builtin = "echo"
}

udp "voice" {
  address      = "[::]:55555"
  backend      = "voice"
  idle_timeout = "90s"
  max_datagram = 1472
  max_sessions = 500
}

backend "voice" {
  address = "[2001:db8::7]:55555"
}
`

func TestConfigFull(t *testing.T) {
	t.Setenv("FLASHGATE_TEST_ADMIN_TOKEN", "s3cret")
	pf := newPEMFiles(t)
	keyDir := t.TempDir() // lobby.key has an absolute path
	lobbyKey := filepath.Join(keyDir, "lobby.key")
	if err := os.WriteFile(lobbyKey, []byte(pf.leafKey), 0o600); err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(fullConfig, `"/etc/flashgate/lobby.key"`, strconv.Quote(lobbyKey), 1)
	path := writeConfig(t, src, map[string]string{
		"legacy-crossdomain.xml": legacyPolicy,
		"chat.pem":               pf.leaf, "chat.key": pf.leafKey, "lobby.pem": pf.leaf,
		"ca-api-root.pem": pf.ca, "internal-ca.pem": pf.ca,
	})
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	dir := filepath.Dir(path)
	clearRanges(cfg)
	gamesAllow := []Allow{
		{Domain: "*.example.com", Ports: "9000-9010,9443", Secure: policyfile.Bool(false)},
		{Domain: "203.0.113.7", Ports: "*"},
	}
	want := &Config{
		File:            path,
		Dir:             dir,
		ShutdownTimeout: 45 * time.Second,
		Log:             Log{Level: "debug", Format: "json"},
		Admin:           &Admin{Address: "127.0.0.1:0", Token: "s3cret"},
		ACME: &ACME{
			Email:   "ops@example.com",
			CA:      "https://acme.example/directory",
			CARoot:  filepath.Join(dir, "ca-api-root.pem"),
			Storage: "/var/lib/flashgate",
		},
		Policies: []*Policy{
			{
				Name:        "games",
				SiteControl: "master-only",
				Allow:       gamesAllow,
				Policy: &policyfile.Policy{
					SiteControl: "master-only",
					Allow: []policyfile.Allow{
						{Domain: "*.example.com", ToPorts: "9000-9010,9443", Secure: policyfile.Bool(false)},
						{Domain: "203.0.113.7", ToPorts: "*"},
					},
				},
			},
			{
				Name:        "legacy",
				SiteControl: "all",
				File:        filepath.Join(dir, "legacy-crossdomain.xml"),
				Policy: &policyfile.Policy{
					SiteControl: "all",
					Allow:       []policyfile.Allow{{Domain: "*.example.org", ToPorts: "9000"}},
				},
			},
		},
		Listeners: []*Listener{
			{
				Name: "master", Address: "[::]:843", Policy: "games", Protocol: "binary",
				SniffTimeout: 300 * time.Millisecond, IdleTimeout: 10 * time.Minute,
				MaxMessage: 1 << 20, MaxConnections: 10000,
			},
			{
				Name: "chat", Address: "[::]:9000", Policy: "games", Backend: "chat", Protocol: "xml",
				SniffTimeout: 250 * time.Millisecond, IdleTimeout: 5 * time.Minute,
				MaxMessage: 64 << 10, MaxConnections: 5000, MaxConnectionsPerIP: 100,
				ProxyProtocol: "v2", ReusePort: true,
				TLS: &ListenerTLS{
					CertFile: filepath.Join(dir, "chat.pem"),
					KeyFile:  filepath.Join(dir, "chat.key"),
					Certificates: []CertPair{
						{CertFile: filepath.Join(dir, "lobby.pem"), KeyFile: lobbyKey},
					},
					MinVersion: "1.0",
				},
				WebSockets: []*WebSocket{
					{Path: "/chat", Backend: "chat", Protocol: "xml"},
					{Path: "/lobby", Backend: "lobby", Protocol: "binary"},
				},
			},
			{
				Name: "secure", Address: "127.0.0.1:0", Backend: "lobby", Protocol: "binary",
				SniffTimeout: 300 * time.Millisecond, IdleTimeout: 10 * time.Minute,
				MaxMessage: 1 << 20, MaxConnections: 10000,
				TLS: &ListenerTLS{ACME: []string{"games.example.com", "chat.example.com"}, MinVersion: "1.2"},
			},
		},
		Backends: []*Backend{
			{
				Name: "chat", Address: []string{"10.0.0.5:5000", "chat-b.internal:5000"},
				ConnectTimeout: 2 * time.Second, ProxyProtocol: "v1", Framing: "line", Balance: "least_conn",
				HealthCheck: &HealthCheck{Interval: 10 * time.Second, Timeout: time.Second},
				TLS: &BackendTLS{
					ServerName: "chat.internal", CAFile: filepath.Join(dir, "internal-ca.pem"),
					Require: "report", Revocation: "required",
				},
			},
			{Name: "lobby", Builtin: "echo", ConnectTimeout: 5 * time.Second, Framing: "nul", Balance: "round_robin"},
			{Name: "voice", Address: []string{"[2001:db8::7]:55555"}, ConnectTimeout: 5 * time.Second, Framing: "nul", Balance: "round_robin"},
		},
		UDP: []*UDP{
			{Name: "voice", Address: "[::]:55555", Backend: "voice", IdleTimeout: 90 * time.Second, MaxDatagram: 1472, MaxSessions: 500},
		},
	}
	compareConfig(t, cfg, want)
}

func compareConfig(t *testing.T, got, want *Config) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	eq := func(name string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got  %+v\n want %+v", name, g, w)
		}
	}
	eq("File", got.File, want.File)
	eq("Dir", got.Dir, want.Dir)
	eq("ShutdownTimeout", got.ShutdownTimeout, want.ShutdownTimeout)
	eq("Log", got.Log, want.Log)
	eq("Admin", got.Admin, want.Admin)
	eq("ACME", got.ACME, want.ACME)
	eq("Warnings", got.Warnings, want.Warnings)
	if len(got.Policies) != len(want.Policies) || len(got.Listeners) != len(want.Listeners) ||
		len(got.Backends) != len(want.Backends) || len(got.UDP) != len(want.UDP) {
		t.Fatalf("block counts differ: got %d/%d/%d/%d policies/listeners/backends/udp, want %d/%d/%d/%d",
			len(got.Policies), len(got.Listeners), len(got.Backends), len(got.UDP),
			len(want.Policies), len(want.Listeners), len(want.Backends), len(want.UDP))
	}
	for i := range got.Policies {
		eq("policy "+want.Policies[i].Name, *got.Policies[i], *want.Policies[i])
		eq("policy "+want.Policies[i].Name+" Policy", got.Policies[i].Policy, want.Policies[i].Policy)
	}
	for i := range got.Listeners {
		g, w := got.Listeners[i], want.Listeners[i]
		eq("listener "+w.Name+" TLS", g.TLS, w.TLS)
		for j := range w.WebSockets {
			if j < len(g.WebSockets) {
				eq("listener "+w.Name+" websocket", *g.WebSockets[j], *w.WebSockets[j])
			}
		}
		gc, wc := *g, *w
		gc.TLS, wc.TLS, gc.WebSockets, wc.WebSockets = nil, nil, nil, nil
		eq("listener "+w.Name, gc, wc)
	}
	for i := range got.Backends {
		eq("backend "+want.Backends[i].Name+" TLS", got.Backends[i].TLS, want.Backends[i].TLS)
		eq("backend "+want.Backends[i].Name+" HealthCheck", got.Backends[i].HealthCheck, want.Backends[i].HealthCheck)
		eq("backend "+want.Backends[i].Name, *got.Backends[i], *want.Backends[i])
	}
	for i := range got.UDP {
		eq("udp "+want.UDP[i].Name, *got.UDP[i], *want.UDP[i])
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := mustLoad(t, `
policy "p" {
  allow {
    domain = "*"
    ports  = "9000"
  }
}
listener "l" {
  address = ":9000"
  policy  = "p"
  backend = "b"
  idle_timeout = null # null means unset: the default applies
  websocket "/ws" {}
}
backend "b" {
  address = "localhost:5000"
}
udp "u" {
  address = "127.0.0.1:0"
  backend = "b"
}
`, nil)
	if cfg.ShutdownTimeout != 30*time.Second {
		t.Errorf("ShutdownTimeout = %v, want 30s", cfg.ShutdownTimeout)
	}
	if cfg.Log != (Log{Level: "info", Format: "console"}) {
		t.Errorf("Log = %+v", cfg.Log)
	}
	if cfg.Admin != nil || cfg.ACME != nil {
		t.Errorf("Admin = %+v, ACME = %+v, want nil without blocks", cfg.Admin, cfg.ACME)
	}
	l := cfg.Listeners[0]
	if l.Protocol != "binary" || l.SniffTimeout != 300*time.Millisecond || l.IdleTimeout != 10*time.Minute ||
		l.MaxMessage != 1<<20 || l.MaxConnections != 10000 || l.MaxConnectionsPerIP != 0 ||
		l.ProxyProtocol != "" || l.ReusePort || l.TLS != nil {
		t.Errorf("listener defaults: %+v", l)
	}
	if ws := l.WebSockets[0]; ws.Backend != "b" || ws.Protocol != "binary" {
		t.Errorf("websocket defaults: %+v", ws)
	}
	b := cfg.Backends[0]
	if b.ConnectTimeout != 5*time.Second || b.Framing != "nul" || b.ProxyProtocol != "" || b.TLS != nil ||
		b.Balance != "round_robin" || b.HealthCheck != nil {
		t.Errorf("backend defaults: %+v", b)
	}
	if p := cfg.Policies[0].Allow[0]; p.Secure != nil {
		t.Errorf("allow secure = %v, want nil when absent", *p.Secure)
	}
	if p := cfg.Policies[0].Policy; p == nil || p.SiteControl != "" {
		t.Errorf("policy = %+v, want built with unset site control", p)
	}
	u := cfg.UDP[0]
	if u.IdleTimeout != 60*time.Second || u.MaxDatagram != 65507 || u.MaxSessions != 10000 {
		t.Errorf("udp defaults: %+v", u)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("Warnings = %q", cfg.Warnings)
	}

	cfg = mustLoad(t, `
admin {}
acme {
  redis {
    address = "redis.internal:6379"
  }
}
backend "b" {
  address = "10.1.2.3:5000"
  tls {}
  health_check {}
}
listener "l" {
  address = "127.0.0.1:0"
  backend = "b"
}
`, nil)
	if bt := cfg.Backends[0].TLS; bt == nil || *bt != (BackendTLS{Require: "trusted", Revocation: "soft"}) {
		t.Errorf("backend TLS = %+v, want defaults", bt)
	}
	if hc := cfg.Backends[0].HealthCheck; hc == nil || *hc != (HealthCheck{Interval: 5 * time.Second, Timeout: time.Second}) {
		t.Errorf("HealthCheck = %+v, want defaults", hc)
	}
	if cfg.Admin == nil || cfg.Admin.Address != "127.0.0.1:9843" {
		t.Errorf("Admin = %+v, want default address", cfg.Admin)
	}
	if cfg.ACME == nil || cfg.ACME.Redis == nil || *cfg.ACME.Redis != (Redis{Address: "redis.internal:6379", KeyPrefix: "flashgate"}) {
		t.Errorf("ACME = %+v", cfg.ACME)
	}
}

// TestConfigErrors checks each problem is reported at its own position with
// a message naming it. Each src is followed by configBase, so line numbers
// count from the case's first line.
func TestConfigErrors(t *testing.T) {
	const configBase = `
policy "p" {
  allow {
    domain = "*"
    ports  = "9000"
  }
}
backend "b" {
  builtin = "echo"
}
`
	tests := []struct {
		name string
		src  string
		pos  string // "LINE:COL"
		msg  string
	}{
		{"unknown key", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  idle_timout = \"5m\"\n}", "4:3", `Unsupported argument: An argument named "idle_timout" is not expected here. Did you mean "idle_timeout"?`},
		{"unknown block", "frontend \"x\" {\n}", "1:1", `Unsupported block type`},
		{"unknown nested block", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  tcp {\n  }\n}", "4:3", `Unsupported block type`},
		{"missing label", "listener {\n}", "1:10", `Missing name for listener`},
		{"missing listener address", "listener \"l\" {\n  backend = \"b\"\n}", "1:1", `missing "address" in listener "l"`},
		{"null listener address", "listener \"l\" {\n  backend = \"b\"\n  address = null\n}", "1:1", `missing "address" in listener "l"`},
		{"bad duration", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  idle_timeout  = \"5 minutes\"\n}", "4:19", `invalid duration "5 minutes" for idle_timeout: time: unknown unit " minutes" in duration "5 minutes"`},
		{"negative duration", "shutdown_timeout = \"-5s\"", "1:20", `invalid duration "-5s" for shutdown_timeout: must not be negative`},
		{"number duration", "shutdown_timeout = 30", "1:20", `invalid duration for shutdown_timeout: string required`},
		{"zero sniff timeout", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  sniff_timeout = \"0s\"\n}", "4:19", `invalid sniff_timeout "0": must be positive`},
		{"bad size suffix", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  max_message = \"64KB?\"\n}", "4:17", `invalid size "64KB?" for max_message`},
		{"negative size string", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  max_message = \"-1\"\n}", "4:17", `invalid size "-1" for max_message: must not be negative`},
		{"negative size number", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  max_message = -1\n}", "4:17", `invalid size -1 for max_message`},
		{"fractional size", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  max_message = 1.5\n}", "4:17", `invalid size 1.5 for max_message`},
		{"negative int", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  max_connections = -1\n}", "4:21", `invalid max_connections -1: must be between 0 and`},
		{"unbracketed ipv6", "listener \"l\" {\n  address = \"::1:843\"\n  backend = \"b\"\n}", "2:13", `invalid address "::1:843": an IPv6 address must be in brackets`},
		{"triple colon", "listener \"l\" {\n  address = \":::843\"\n  backend = \"b\"\n}", "2:13", `invalid address ":::843": an IPv6 address must be in brackets`},
		{"port out of range", "listener \"l\" {\n  address = \"1.2.3.4:99999\"\n  backend = \"b\"\n}", "2:13", `invalid address "1.2.3.4:99999": port 99999: out of range 0-65535`},
		{"named port", "listener \"l\" {\n  address = \"127.0.0.1:http\"\n  backend = \"b\"\n}", "2:13", `invalid address "127.0.0.1:http": port "http": must be a number`},
		{"no port", "listener \"l\" {\n  address = \"127.0.0.1\"\n  backend = \"b\"\n}", "2:13", `invalid address "127.0.0.1": want host:port: missing port in address`},
		{"listener hostname", "listener \"l\" {\n  address = \"example.com:9000\"\n  backend = \"b\"\n}", "2:13", `invalid address "example.com:9000": host "example.com": a listening address takes an IP address`},
		{"bracketed ipv4", "listener \"l\" {\n  address = \"[1.2.3.4]:9000\"\n  backend = \"b\"\n}", "2:13", `invalid address "[1.2.3.4]:9000": brackets are for IPv6 addresses only`},
		{"backend port 0", "backend \"x\" {\n  address = [\"db:5000\", \"db:0\"]\n}", "2:13", `invalid address "db:0": port 0`},
		{"backend bad host", "backend \"x\" {\n  address = \"bad host:5000\"\n}", "2:13", `invalid address "bad host:5000": host "bad host" is not a valid host name`},
		{"backend address number", "backend \"x\" {\n  address = 5000\n}", "2:13", `invalid address: a string or a list of strings required`},
		{"backend address object", "backend \"x\" {\n  address = {a = 1}\n}", "2:13", `invalid address: a string or a list of strings required`},
		{"admin address", "admin {\n  address = \"localhost\"\n}", "2:13", `invalid address "localhost": want host:port: missing port in address`},
		{"undefined policy", "listener \"l\" {\n  address = \":0\"\n  policy = \"games\"\n}", "3:12", `undefined policy "games": listener "l" refers to policy "games", which is not defined`},
		{"undefined backend", "listener \"l\" {\n  address = \":0\"\n  backend = \"chat\"\n}", "3:13", `undefined backend "chat": listener "l" refers to backend "chat"`},
		{"undefined websocket backend", "listener \"l\" {\n  address = \":0\"\n  policy = \"p\"\n  websocket \"/x\" {\n    backend = \"nope\"\n  }\n}", "5:15", `undefined backend "nope": websocket "/x" of listener "l"`},
		{"undefined udp backend", "udp \"u\" {\n  address = \":0\"\n  backend = \"voice\"\n}", "3:13", `undefined backend "voice": udp "u" refers to backend "voice"`},
		{"websocket without policy", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  websocket \"/x\" {}\n}", "4:3", `websocket "/x" needs a policy: listener "l" has none`},
		{"websocket without backend", "listener \"l\" {\n  address = \":0\"\n  policy = \"p\"\n  websocket \"/x\" {}\n}", "4:3", `websocket "/x" of listener "l" has no backend`},
		{"websocket path", "listener \"l\" {\n  address = \":0\"\n  policy = \"p\"\n  backend = \"b\"\n  websocket \"x\" {}\n}", "5:13", `invalid websocket path "x": must start with "/"`},
		{"duplicate websocket", "listener \"l\" {\n  address = \":0\"\n  policy = \"p\"\n  backend = \"b\"\n  websocket \"/x\" {}\n  websocket \"/x\" {}\n}", "6:3", `duplicate websocket "/x" in listener "l": the first is at`},
		{"listener without policy or backend", "listener \"l\" {\n  address = \":0\"\n}", "1:1", `listener "l" needs a policy or a backend`},
		{"duplicate listener", "listener \"chat\" {\n  address = \":0\"\n  backend = \"b\"\n}\nlistener \"chat\" {\n  address = \":0\"\n  backend = \"b\"\n}", "5:1", `duplicate listener "chat": the first is at`},
		{"duplicate backend", "backend \"b\" {\n  builtin = \"echo\"\n}", "11:1", `duplicate backend "b": the first is at `}, // configBase's b is the duplicate
		{"duplicate address", "listener \"a\" {\n  address = \"127.0.0.1:9000\"\n  backend = \"b\"\n}\nlistener \"c\" {\n  address = \"127.0.0.1:9000\"\n  backend = \"b\"\n}", "5:1", `listener "c": address "127.0.0.1:9000" is already used by listener "a"`},
		{"duplicate log", "log {\n}\nlog {\n}", "3:1", `duplicate log block`},
		{"backend address and builtin", "backend \"x\" {\n  address = \"h:1\"\n  builtin = \"echo\"\n}", "3:13", `backend "x" has both address and builtin`},
		{"backend neither", "backend \"x\" {\n  connect_timeout = \"1s\"\n}", "1:1", `backend "x" needs an address or a builtin`},
		{"backend empty list", "backend \"x\" {\n  address = []\n}", "2:13", `empty address list in backend "x"`},
		{"unknown builtin", "backend \"x\" {\n  builtin = \"discard\"\n}", "2:13", `invalid builtin "discard": must be one of "echo"`},
		{"balance", "backend \"x\" {\n  address = \"h:1\"\n  balance = \"random\"\n}", "3:13", `invalid balance "random": must be one of "round_robin", "least_conn"`},
		{"health check interval", "backend \"x\" {\n  address = \"h:1\"\n  health_check {\n    interval = \"0s\"\n  }\n}", "4:16", `invalid interval "0": must be positive`},
		{"health check builtin", "backend \"x\" {\n  builtin = \"echo\"\n  health_check {\n  }\n}", "3:3", `health_check in backend "x": a builtin backend`},
		{"builtin with tls", "backend \"x\" {\n  builtin = \"echo\"\n  tls {}\n}", "3:3", `tls in backend "x": a builtin backend`},
		{"udp without backend", "udp \"u\" {\n  address = \":0\"\n}", "1:1", `missing "backend" in udp "u"`},
		{"udp datagram too big", "udp \"u\" {\n  address = \":0\"\n  backend = \"b\"\n  max_datagram = 65508\n}", "4:18", `invalid max_datagram 65508: must be between 1 and 65507`},
		{"policy file and allow", "policy \"x\" {\n  file = \"x.xml\"\n  allow {\n    domain = \"*\"\n    ports = \"*\"\n  }\n}", "2:10", `policy "x" has both file and allow blocks`},
		{"policy empty", "policy \"x\" {\n  site_control = \"all\"\n}", "1:1", `policy "x" has no allow blocks and no file`},
		{"site control", "policy \"x\" {\n  site_control = \"by-content-type\"\n  allow {\n    domain = \"*\"\n    ports = \"*\"\n  }\n}", "2:18", `invalid site_control "by-content-type": must be one of "none", "master-only", "all"`},
		{"allow without ports", "policy \"x\" {\n  allow {\n    domain = \"*\"\n  }\n}", "2:3", `missing "ports" in policy "x" allow`},
		{"allow without domain", "policy \"x\" {\n  allow {\n    ports = \"*\"\n  }\n}", "2:3", `missing "domain" in policy "x" allow`},
		{"allow empty domain", "policy \"x\" {\n  allow {\n    domain = \"\"\n    ports = \"*\"\n  }\n}", "3:14", `invalid domain ""`},
		{"ports reversed", "policy \"x\" {\n  allow {\n    domain = \"*\"\n    ports = \"9010-9000\"\n  }\n}", "4:13", `invalid ports "9010-9000": range "9010-9000": 9010 is above 9000`},
		{"ports zero", "policy \"x\" {\n  allow {\n    domain = \"*\"\n    ports = \"0\"\n  }\n}", "4:13", `invalid ports "0": port 0`},
		{"ports star in list", "policy \"x\" {\n  allow {\n    domain = \"*\"\n    ports = \"*,80\"\n  }\n}", "4:13", `invalid ports "*,80": "*" must stand alone`},
		{"ports space", "policy \"x\" {\n  allow {\n    domain = \"*\"\n    ports = \"9000, 9001\"\n  }\n}", "4:13", `invalid ports "9000, 9001"`},
		{"allow secure string", "policy \"x\" {\n  allow {\n    domain = \"*\"\n    ports = \"*\"\n    secure = \"maybe\"\n  }\n}", "5:14", `invalid secure: true or false required`},
		{"tls cert without key", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  tls {\n    cert_file = \"c.pem\"\n  }\n}", "4:3", `missing "key_file" in tls of listener "l"`},
		{"tls empty", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  tls {\n  }\n}", "4:3", `tls of listener "l" has no certificate`},
		{"tls acme without acme block", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  tls {\n    acme = [\"a.example\"]\n  }\n}", "1:1", `listener "l" uses ACME but there is no acme block`},
		{"tls acme not a list", "acme {\n}\nlistener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  tls {\n    acme = \"a.example\"\n  }\n}", "7:12", `invalid acme: a list of strings required`},
		{"certificate without key", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  tls {\n    certificate {\n      cert_file = \"c.pem\"\n    }\n  }\n}", "5:5", `missing "key_file" in certificate of listener "l"`},
		{"min version", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  tls {\n    cert_file = \"c\"\n    key_file = \"k\"\n    min_version = \"1.4\"\n  }\n}", "7:19", `invalid min_version "1.4": must be one of "1.0", "1.1", "1.2", "1.3"`},
		{"protocol", "listener \"l\" {\n  address = \":0\"\n  backend = \"b\"\n  protocol = \"tcp\"\n}", "4:14", `invalid protocol "tcp": must be one of "binary", "xml"`},
		{"proxy protocol", "backend \"x\" {\n  builtin = \"echo\"\n  proxy_protocol = \"v3\"\n}", "3:20", `invalid proxy_protocol "v3"`},
		{"framing", "backend \"x\" {\n  address = \"h:1\"\n  framing = \"crlf\"\n}", "3:13", `invalid framing "crlf": must be one of "nul", "line"`},
		{"require", "backend \"x\" {\n  address = \"h:1\"\n  tls {\n    require = \"maybe\"\n  }\n}", "4:15", `invalid require "maybe": must be one of "trusted", "report"`},
		{"revocation", "backend \"x\" {\n  address = \"h:1\"\n  tls {\n    revocation = \"hard\"\n  }\n}", "4:18", `invalid revocation "hard": must be one of "soft", "required", "off"`},
		{"log level", "log {\n  level = \"verbose\"\n}", "2:11", `invalid level "verbose": must be one of "debug", "info", "warn", "error"`},
		{"log format", "log {\n  format = \"text\"\n}", "2:12", `invalid format "text"`},
		{"acme storage and redis", "acme {\n  storage = \"s\"\n  redis {\n    address = \"r:6379\"\n  }\n}", "2:13", `acme has both storage and redis`},
		{"acme ca", "acme {\n  ca = \"acme.example\"\n}", "2:8", `invalid ca "acme.example"`},
		{"redis without address", "acme {\n  redis {\n  }\n}", "2:3", `missing "address" in acme redis`},
		{"variables", "shutdown_timeout = timeout", "1:20", `Variables not allowed`},
		{"unknown function", "shutdown_timeout = upper(\"5s\")", "1:20", `Call to unknown function`},
		{"file missing", "admin {\n  token = file(\"missing-token.txt\")\n}", "2:17", `Invalid function argument: Invalid value for "path" parameter: cannot read "missing-token.txt": no such file or directory`},
		{"file directory", "admin {\n  token = file(\".\")\n}", "2:17", `Invalid function argument: Invalid value for "path" parameter: cannot read ".": not a regular file`},
		{"syntax", "listener \"l\" {\n  address = \n}", "2:13", `Invalid expression`},
		{"one-line block with two attributes", "backend \"x\" { address = \"h:1\", framing = \"nul\" }", "1:30", `Invalid single-argument block definition`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.src+"\n"+configBase, nil)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded, want %s:%s: %s", path, tt.pos, tt.msg)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T, want *Error: %v", err, err)
			}
			got := err.Error()
			want := path + ":" + tt.pos + ": " + tt.msg
			found := false
			for _, line := range strings.Split(got, "\n") {
				if strings.HasPrefix(line, want) {
					found = true
				}
			}
			if !found {
				t.Errorf("error does not have a line starting %q:\n%s", want, got)
			}
		})
	}
}

func TestConfigRelativePaths(t *testing.T) {
	// Parse resolves from the directory of the filename it is given,
	// even when that is relative.
	t.Chdir(t.TempDir())
	if err := os.MkdirAll(filepath.Join("conf", "policies"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("conf", "policies", "legacy.xml"), []byte(legacyPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	src := []byte(`
policy "legacy" {
  file = "policies/legacy.xml"
}
listener "m" {
  address = "127.0.0.1:0"
  policy  = "legacy"
}
`)
	cfg, err := Parse(src, filepath.Join("conf", "flashgate.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	want := filepath.Join(wd, "conf", "policies", "legacy.xml")
	if got := cfg.Policies[0].File; got != want {
		t.Errorf("File = %q, want %q", got, want)
	}
	if cfg.Dir != filepath.Join(wd, "conf") || cfg.File != filepath.Join("conf", "flashgate.hcl") {
		t.Errorf("Dir, File = %q, %q", cfg.Dir, cfg.File)
	}
}

// TestConfigPolicyFileDiagnostics: lint findings of a policy file come back
// at their line in that file, warnings in Config.Warnings, errors in the
// Error.
func TestConfigPolicyFileDiagnostics(t *testing.T) {
	const src = `
policy "open" {
  file = "open.xml"
}
listener "m" {
  address = "127.0.0.1:0"
  policy  = "open"
}
`
	open := "<cross-domain-policy>\n  <allow-access-from domain=\"*\" to-ports=\"*\"/>\n</cross-domain-policy>\n"
	path := writeConfig(t, src, map[string]string{"open.xml": open})
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	xml := filepath.Join(filepath.Dir(path), "open.xml")
	if len(cfg.Warnings) != 1 || !strings.HasPrefix(cfg.Warnings[0], xml+":2:") ||
		!strings.Contains(cfg.Warnings[0], ": warning: ") ||
		!strings.Contains(cfg.Warnings[0], "\n    2 |   <allow-access-from") {
		t.Errorf("Warnings = %q", cfg.Warnings)
	}

	bad := "<cross-domain-policy>\n  <allow-access-from domain=\"*\"/>\n</cross-domain-policy>\n"
	path = writeConfig(t, src, map[string]string{"open.xml": bad})
	_, err = Load(path)
	xml = filepath.Join(filepath.Dir(path), "open.xml")
	if err == nil || !strings.HasPrefix(err.Error(), xml+":2:") {
		t.Errorf("err = %v, want a finding at %s:2", err, xml)
	}

	path = writeConfig(t, src, nil)
	_, err = Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+":2:1: ") || !strings.Contains(err.Error(), "open.xml") {
		t.Errorf("err = %v, want the missing file reported at the policy block", err)
	}
}

func TestConfigEmpty(t *testing.T) {
	cfg, err := Parse(nil, "empty.hcl")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ShutdownTimeout != 30*time.Second || len(cfg.Listeners) != 0 {
		t.Errorf("cfg = %+v", cfg)
	}
}
