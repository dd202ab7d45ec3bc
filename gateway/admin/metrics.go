package admin

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// Metric names are prefixed flashgate_. Labels carry names from the config
// (listener="chat", backend="chat", udp="voice"), never addresses: a
// backend's servers are labelled by their index in its address list
// (server="0" is the first address), so a series does not change its name
// when a server moves and no client address ever becomes a label. The names
// and labels are a contract: dashboards and alerts are written against them.
const metricsNamespace = "flashgate"

// Gauges are the values read from the gateway's state at scrape time
// (active connections, backend health), so the hot path only touches the
// atomics it keeps anyway.
type Gauges struct {
	Listeners []ListenerGauge
	Servers   []ServerGauge
}

// ListenerGauge is one listener's open connections
// (flashgate_connections_active{listener}).
type ListenerGauge struct {
	Name   string
	Active int64
}

// ServerGauge is one backend server's health and open relayed connections
// (flashgate_backend_up and flashgate_backend_connections_active, labelled
// {backend, server}).
type ServerGauge struct {
	Backend string
	Index   int // position in the backend's address list: the server label
	Up      bool
	Active  int64
}

// GaugeSource reports the Gauges at scrape time.
type GaugeSource interface {
	Gauges() Gauges
}

// MetricsOptions configure NewMetrics.
type MetricsOptions struct {
	// Kinds are the label values of flashgate_connections_total's kind,
	// indexed by the kind numbers ListenerMetrics.Connection takes; they
	// also order the kinds on the status page.
	Kinds []string
	// RejectReasons are created at 0 for every listener, so a dashboard
	// sees the series before the first rejection.
	RejectReasons []string
	// Gauges is read at every scrape; nil reports no gauges.
	Gauges GaugeSource
}

// Metrics holds the gateway's collectors, on a registry of its own (never
// the global one), so two gateways in one process do not collide. The
// engines update it through the handles Listener and UDP return.
type Metrics struct {
	reg     *prometheus.Registry
	kinds   []string
	reasons []string
	gauges  GaugeSource

	connections   *prometheus.CounterVec // listener, kind
	bytes         *prometheus.CounterVec // listener, direction
	policyAnswers *prometheus.CounterVec // listener
	rejections    *prometheus.CounterVec // listener, reason
	dialErrors    *prometheus.CounterVec // backend
	tlsStatus     *prometheus.CounterVec // backend, status
	udpSessions   *prometheus.GaugeVec   // udp
	udpDatagrams  *prometheus.CounterVec // udp, direction
	udpDrops      *prometheus.CounterVec // udp, reason

	build         Build
	buildDesc     *prometheus.Desc
	activeDesc    *prometheus.Desc
	backendUpDesc *prometheus.Desc
	serverActDesc *prometheus.Desc
}

// NewMetrics creates the collectors and their registry, with Go's runtime
// and process collectors beside them.
func NewMetrics(opts MetricsOptions) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, labels)
	}
	m := &Metrics{
		reg:     prometheus.NewRegistry(),
		kinds:   append([]string(nil), opts.Kinds...),
		reasons: append([]string(nil), opts.RejectReasons...),
		gauges:  opts.Gauges,
		build:   ReadBuild(),
		buildDesc: prometheus.NewDesc(metricsNamespace+"_build_info",
			"Always 1; the labels describe the running build (revision ends in +dirty for a modified checkout).",
			[]string{"version", "revision", "goversion"}, nil),
		connections:   counter("connections_total", "Accepted connections by what the sniffer found (policy, tls, http, data, silent).", "listener", "kind"),
		bytes:         counter("bytes_total", "Bytes relayed, counted when a connection ends; direction is up (client to backend) or down.", "listener", "direction"),
		policyAnswers: counter("policy_answers_total", "Socket policy files served.", "listener"),
		rejections:    counter("rejections_total", "Connections closed at once: max_connections, max_connections_per_ip or a bad PROXY header.", "listener", "reason"),
		dialErrors:    counter("backend_dial_errors_total", "Failed dials to a backend server (each failed-over attempt counts).", "backend"),
		tlsStatus:     counter("tls_backend_status_total", "CertificateStatus of TLS connections to backends.", "backend", "status"),
		udpSessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "udp_sessions_active",
			Help: "Open UDP client sessions."}, []string{"udp"}),
		udpDatagrams: counter("udp_datagrams_total", "UDP datagrams relayed; direction is up (client to backend) or down.", "udp", "direction"),
		udpDrops:     counter("udp_drops_total", "UDP datagrams dropped, by reason.", "udp", "reason"),
		activeDesc: prometheus.NewDesc(metricsNamespace+"_connections_active",
			"Open connections per listener (a removed listener is reported while its connections drain).", []string{"listener"}, nil),
		backendUpDesc: prometheus.NewDesc(metricsNamespace+"_backend_up",
			"1 when a backend server is considered healthy; server is its index in the backend's address list.", []string{"backend", "server"}, nil),
		serverActDesc: prometheus.NewDesc(metricsNamespace+"_backend_connections_active",
			"Open relayed connections per backend server; server is its index in the address list.", []string{"backend", "server"}, nil),
	}
	m.reg.MustRegister(m.connections, m.bytes, m.policyAnswers, m.rejections, m.dialErrors, m.tlsStatus,
		m.udpSessions, m.udpDatagrams, m.udpDrops, (*stateCollector)(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Gatherer is the registry /metrics serves.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Kinds returns the connection kinds' label values, in kind-number order.
func (m *Metrics) Kinds() []string { return append([]string(nil), m.kinds...) }

// DialErrors returns the counter of failed dials to backend's servers
// (flashgate_backend_dial_errors_total{backend}); the caller keeps it and
// calls Inc per failed attempt.
func (m *Metrics) DialErrors(backend string) prometheus.Counter {
	return m.dialErrors.WithLabelValues(backend)
}

// BackendTLS counts the CertificateStatus of one TLS connection to a
// backend (flashgate_tls_backend_status_total{backend,status}).
func (m *Metrics) BackendTLS(backend, status string) {
	m.tlsStatus.WithLabelValues(backend, status).Inc()
}

// stateCollector reports the gauges read at scrape time.
type stateCollector Metrics

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.buildDesc
	ch <- c.activeDesc
	ch <- c.backendUpDesc
	ch <- c.serverActDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.buildDesc, prometheus.GaugeValue, 1, c.build.Version, c.build.Revision, c.build.GoVersion)
	if c.gauges == nil {
		return
	}
	g := c.gauges.Gauges()
	for _, l := range g.Listeners {
		ch <- prometheus.MustNewConstMetric(c.activeDesc, prometheus.GaugeValue, float64(l.Active), l.Name)
	}
	for _, s := range g.Servers {
		up := 0.0
		if s.Up {
			up = 1
		}
		idx := strconv.Itoa(s.Index)
		ch <- prometheus.MustNewConstMetric(c.backendUpDesc, prometheus.GaugeValue, up, s.Backend, idx)
		ch <- prometheus.MustNewConstMetric(c.serverActDesc, prometheus.GaugeValue, float64(s.Active), s.Backend, idx)
	}
}

// ListenerMetrics are one listener's counters, looked up once when the
// listener is created so that counting a connection is an atomic add. Any
// number of handles for one name may exist: they share the series.
type ListenerMetrics struct {
	name       string
	kindNames  []string
	kinds      []prometheus.Counter
	up, down   prometheus.Counter
	policy     prometheus.Counter
	rejections map[string]prometheus.Counter
	rejectVec  *prometheus.CounterVec
}

// Listener returns the handles of the listener name.
func (m *Metrics) Listener(name string) *ListenerMetrics {
	lm := &ListenerMetrics{
		name:       name,
		kindNames:  m.kinds,
		kinds:      make([]prometheus.Counter, len(m.kinds)),
		up:         m.bytes.WithLabelValues(name, "up"),
		down:       m.bytes.WithLabelValues(name, "down"),
		policy:     m.policyAnswers.WithLabelValues(name),
		rejections: make(map[string]prometheus.Counter, len(m.reasons)),
		rejectVec:  m.rejections,
	}
	for k, kn := range m.kinds {
		lm.kinds[k] = m.connections.WithLabelValues(name, kn)
	}
	for _, r := range m.reasons {
		lm.rejections[r] = m.rejections.WithLabelValues(name, r)
	}
	return lm
}

// Connection counts a finished connection: its kind (an index into
// MetricsOptions.Kinds; others are not counted by kind) and the bytes it
// relayed up (client to backend) and down.
func (lm *ListenerMetrics) Connection(kind int, up, down int64) {
	if kind >= 0 && kind < len(lm.kinds) {
		lm.kinds[kind].Inc()
	}
	if up > 0 {
		lm.up.Add(float64(up))
	}
	if down > 0 {
		lm.down.Add(float64(down))
	}
}

// PolicyServed counts a socket policy answer.
func (lm *ListenerMetrics) PolicyServed() { lm.policy.Inc() }

// Rejected counts a connection closed at once, with its reason (a short
// fixed word, never an address).
func (lm *ListenerMetrics) Rejected(reason string) {
	if c := lm.rejections[reason]; c != nil {
		c.Inc()
		return
	}
	lm.rejectVec.WithLabelValues(lm.name, reason).Inc()
}

// Connections returns the finished connections by kind name, leaving out
// kinds not seen yet (for /status).
func (lm *ListenerMetrics) Connections() map[string]uint64 {
	out := map[string]uint64{}
	for k, c := range lm.kinds {
		if v := counterValue(c); v > 0 {
			out[lm.kindNames[k]] = v
		}
	}
	return out
}

// PolicyAnswers returns the policy answers served so far (for /status).
func (lm *ListenerMetrics) PolicyAnswers() uint64 { return counterValue(lm.policy) }

// Rejections returns the rejections by reason, leaving out reasons not seen
// yet (for /status). Only the reasons of MetricsOptions.RejectReasons are
// reported.
func (lm *ListenerMetrics) Rejections() map[string]uint64 {
	out := map[string]uint64{}
	for r, c := range lm.rejections {
		if v := counterValue(c); v > 0 {
			out[r] = v
		}
	}
	return out
}

// UDPMetrics are the counters of one udp block, obtained once with
// (*Metrics).UDP and called by the UDP relay integration. Handles for one
// name share the series.
type UDPMetrics struct {
	name     string
	sessions prometheus.Gauge
	up, down prometheus.Counter
	drops    *prometheus.CounterVec
}

// UDP returns the handles of the udp block name.
func (m *Metrics) UDP(name string) *UDPMetrics {
	return &UDPMetrics{
		name:     name,
		sessions: m.udpSessions.WithLabelValues(name),
		up:       m.udpDatagrams.WithLabelValues(name, "up"),
		down:     m.udpDatagrams.WithLabelValues(name, "down"),
		drops:    m.udpDrops,
	}
}

// SessionOpened counts a new client session.
func (u *UDPMetrics) SessionOpened() { u.sessions.Inc() }

// SessionClosed counts an ended client session.
func (u *UDPMetrics) SessionClosed() { u.sessions.Dec() }

// SetSessions sets the open session count (for relays that report a total).
func (u *UDPMetrics) SetSessions(n int) { u.sessions.Set(float64(n)) }

// Sessions returns the open session count (for /status).
func (u *UDPMetrics) Sessions() int64 {
	var d dto.Metric
	if u.sessions.Write(&d) != nil || d.Gauge == nil {
		return 0
	}
	return int64(d.Gauge.GetValue())
}

// Datagram counts n datagrams; up is client to backend.
func (u *UDPMetrics) Datagram(up bool, n int) {
	if up {
		u.up.Add(float64(n))
	} else {
		u.down.Add(float64(n))
	}
}

// Datagrams returns the datagrams counted so far in one direction.
func (u *UDPMetrics) Datagrams(up bool) uint64 {
	if up {
		return counterValue(u.up)
	}
	return counterValue(u.down)
}

// Drop counts a dropped datagram with its reason (a short fixed word such as
// "max_sessions", "too_large", "backend_down"; never an address).
func (u *UDPMetrics) Drop(reason string) { u.DropN(reason, 1) }

// DropN counts n dropped datagrams with their reason, as Drop does.
func (u *UDPMetrics) DropN(reason string, n uint64) {
	if n > 0 {
		u.drops.WithLabelValues(u.name, reason).Add(float64(n))
	}
}

// Dropped returns the datagrams dropped so far for reason.
func (u *UDPMetrics) Dropped(reason string) uint64 {
	return counterValue(u.drops.WithLabelValues(u.name, reason))
}

// counterValue reads a counter's value, as a scrape would.
func counterValue(c prometheus.Counter) uint64 {
	if c == nil {
		return 0
	}
	var m dto.Metric
	if c.Write(&m) != nil || m.Counter == nil {
		return 0
	}
	return uint64(m.Counter.GetValue())
}
