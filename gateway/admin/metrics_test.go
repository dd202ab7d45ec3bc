package admin

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// fakeGauges reports fixed gauges.
type fakeGauges struct{ g Gauges }

func (f fakeGauges) Gauges() Gauges { return f.g }

var testKinds = []string{"unknown", "policy", "tls", "http", "data", "silent", "raw"}

func newTestMetrics(g Gauges) *Metrics {
	return NewMetrics(MetricsOptions{Kinds: testKinds,
		RejectReasons: []string{"max_connections", "max_connections_per_ip", "proxy_header"}, Gauges: fakeGauges{g}})
}

// scrape returns the registry's text exposition.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Gatherer(), promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// TestMetricNames: the names and labels are a contract; every handle
// reaches its series, and the gauges come from the GaugeSource.
func TestMetricNames(t *testing.T) {
	m := newTestMetrics(Gauges{
		Listeners: []ListenerGauge{{Name: "chat", Active: 4}},
		Servers:   []ServerGauge{{Backend: "echo", Index: 0, Up: true, Active: 3}, {Backend: "echo", Index: 1, Up: false}},
	})
	lm := m.Listener("chat")
	lm.Connection(1, 0, 0) // policy
	lm.Connection(4, 10, 20)
	lm.Connection(99, 1, 1) // unknown kind number: bytes only
	lm.Connection(-1, 0, 0)
	lm.PolicyServed()
	lm.Rejected("max_connections_per_ip")
	lm.Rejected("banned") // a reason not created up front
	m.DialErrors("echo").Inc()
	m.BackendTLS("echo", "untrustedSigners")
	u := m.UDP("voice")
	u.SessionOpened()
	u.SessionOpened()
	u.SessionClosed()
	u.Datagram(true, 3)
	u.Datagram(false, 2)
	u.Drop("max_sessions")
	u.DropN("max_datagram", 5)
	u.DropN("other", 0)

	text := scrape(t, m)
	for _, want := range []string{
		`flashgate_connections_total{kind="policy",listener="chat"} 1`,
		`flashgate_connections_total{kind="data",listener="chat"} 1`,
		`flashgate_connections_total{kind="raw",listener="chat"} 0`,
		`flashgate_bytes_total{direction="up",listener="chat"} 11`,
		`flashgate_bytes_total{direction="down",listener="chat"} 21`,
		`flashgate_policy_answers_total{listener="chat"} 1`,
		`flashgate_rejections_total{listener="chat",reason="max_connections"} 0`,
		`flashgate_rejections_total{listener="chat",reason="max_connections_per_ip"} 1`,
		`flashgate_rejections_total{listener="chat",reason="banned"} 1`,
		`flashgate_backend_dial_errors_total{backend="echo"} 1`,
		`flashgate_tls_backend_status_total{backend="echo",status="untrustedSigners"} 1`,
		`flashgate_udp_sessions_active{udp="voice"} 1`,
		`flashgate_udp_datagrams_total{direction="up",udp="voice"} 3`,
		`flashgate_udp_datagrams_total{direction="down",udp="voice"} 2`,
		`flashgate_udp_drops_total{reason="max_sessions",udp="voice"} 1`,
		`flashgate_udp_drops_total{reason="max_datagram",udp="voice"} 5`,
		`flashgate_connections_active{listener="chat"} 4`,
		`flashgate_backend_up{backend="echo",server="0"} 1`,
		`flashgate_backend_up{backend="echo",server="1"} 0`,
		`flashgate_backend_connections_active{backend="echo",server="0"} 3`,
		"go_goroutines", "process_open_fds",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, `reason="other"`) {
		t.Error("DropN with 0 created a series")
	}

	// What /status reads back.
	if got := lm.Connections(); len(got) != 2 || got["policy"] != 1 || got["data"] != 1 {
		t.Errorf("Connections() = %v", got)
	}
	if got := lm.Rejections(); len(got) != 1 || got["max_connections_per_ip"] != 1 {
		t.Errorf("Rejections() = %v (only the reasons created up front, and only when seen)", got)
	}
	if lm.PolicyAnswers() != 1 {
		t.Errorf("PolicyAnswers() = %d", lm.PolicyAnswers())
	}
	if u.Sessions() != 1 || u.Datagrams(true) != 3 || u.Datagrams(false) != 2 || u.Dropped("max_datagram") != 5 {
		t.Errorf("udp read-back: sessions %d, up %d, down %d, dropped %d",
			u.Sessions(), u.Datagrams(true), u.Datagrams(false), u.Dropped("max_datagram"))
	}
	u.SetSessions(7)
	if u2 := m.UDP("voice"); u2.Sessions() != 7 {
		t.Errorf("a second handle sees %d sessions, want 7: handles share the series", u2.Sessions())
	}
}

// TestMetricsTwoRegistries: two Metrics in one process do not share series
// (no global registry).
func TestMetricsTwoRegistries(t *testing.T) {
	a, b := newTestMetrics(Gauges{}), newTestMetrics(Gauges{})
	a.Listener("chat").PolicyServed()
	if n := b.Listener("chat").PolicyAnswers(); n != 0 {
		t.Fatalf("the other registry counted %d policy answers", n)
	}
	if got := a.Kinds(); len(got) != len(testKinds) || got[1] != "policy" {
		t.Fatalf("Kinds() = %v", got)
	}
	if text := scrape(t, NewMetrics(MetricsOptions{})); !strings.Contains(text, "go_goroutines") {
		t.Fatal("a Metrics without gauges does not scrape")
	}
}
