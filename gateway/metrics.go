package gateway

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metric names are prefixed flashgate_. Labels carry names from the config
// (listener="chat", backend="chat", udp="voice"), never addresses: a
// backend's servers are labelled by their index in its address list
// (server="0" is the first address), so a series does not change its name
// when a server moves and no client address ever becomes a label.
const metricsNamespace = "flashgate"

// Rejection reasons, as counted in flashgate_rejections_total{reason}.
const (
	rejectMaxConns    = "max_connections"
	rejectMaxPerIP    = "max_connections_per_ip"
	rejectProxyHeader = "proxy_header"
)

var rejectReasons = []string{rejectMaxConns, rejectMaxPerIP, rejectProxyHeader}

// metrics holds the gateway's collectors, on a registry of its own (never
// the global one), so two gateways in one process do not collide.
type metrics struct {
	reg *prometheus.Registry

	connections   *prometheus.CounterVec // listener, kind
	bytes         *prometheus.CounterVec // listener, direction
	policyAnswers *prometheus.CounterVec // listener
	rejections    *prometheus.CounterVec // listener, reason
	dialErrors    *prometheus.CounterVec // backend
	tlsStatus     *prometheus.CounterVec // backend, status
	udpSessions   *prometheus.GaugeVec   // udp
	udpDatagrams  *prometheus.CounterVec // udp, direction
	udpDrops      *prometheus.CounterVec // udp, reason

	activeDesc    *prometheus.Desc
	backendUpDesc *prometheus.Desc
	serverActDesc *prometheus.Desc
	g             *Gateway
}

func newMetrics(g *Gateway) *metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, labels)
	}
	m := &metrics{
		reg:           prometheus.NewRegistry(),
		g:             g,
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

// stateCollector reports gauges read from the gateway's state at scrape
// time (active connections, backend health), so the hot path only touches
// the atomics it keeps anyway.
type stateCollector metrics

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.activeDesc
	ch <- c.backendUpDesc
	ch <- c.serverActDesc
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, l := range c.g.allListeners() {
		ch <- prometheus.MustNewConstMetric(c.activeDesc, prometheus.GaugeValue, float64(l.active.Load()), l.name)
	}
	gen := c.g.gen.Load()
	if gen == nil {
		return
	}
	for _, bc := range gen.cfg.Backends {
		b := gen.pools[bc.Name]
		if b == nil {
			continue
		}
		for i, s := range b.servers {
			up := 0.0
			if s.up() {
				up = 1
			}
			idx := strconv.Itoa(i)
			ch <- prometheus.MustNewConstMetric(c.backendUpDesc, prometheus.GaugeValue, up, bc.Name, idx)
			ch <- prometheus.MustNewConstMetric(c.serverActDesc, prometheus.GaugeValue, float64(s.active.Load()), bc.Name, idx)
		}
	}
}

// listenerMetrics are one listener's counters, looked up once when the
// listener is created so that counting a connection is an atomic add.
type listenerMetrics struct {
	kinds      [len(kindNames)]prometheus.Counter
	up, down   prometheus.Counter
	policy     prometheus.Counter
	rejections map[string]prometheus.Counter
	rejectVec  *prometheus.CounterVec
}

func (m *metrics) forListener(name string) *listenerMetrics {
	lm := &listenerMetrics{
		up:         m.bytes.WithLabelValues(name, "up"),
		down:       m.bytes.WithLabelValues(name, "down"),
		policy:     m.policyAnswers.WithLabelValues(name),
		rejections: make(map[string]prometheus.Counter, len(rejectReasons)),
		rejectVec:  m.rejections,
	}
	for k, kn := range kindNames { // "unknown": the client left before sending a byte
		lm.kinds[k] = m.connections.WithLabelValues(name, kn)
	}
	for _, r := range rejectReasons {
		lm.rejections[r] = m.rejections.WithLabelValues(name, r)
	}
	return lm
}

// connection counts a finished connection: its kind and its bytes.
func (lm *listenerMetrics) connection(kind Kind, up, down int64) {
	if int(kind) < len(lm.kinds) && lm.kinds[kind] != nil {
		lm.kinds[kind].Inc()
	}
	if up > 0 {
		lm.up.Add(float64(up))
	}
	if down > 0 {
		lm.down.Add(float64(down))
	}
}

// UDPMetrics are the counters of one udp block, obtained once with
// (*Gateway).udpMetrics and called by the UDP relay integration.
type UDPMetrics struct {
	sessions   prometheus.Gauge
	open       atomic.Int64 // mirrors sessions for /status
	up, down   prometheus.Counter
	drops      *prometheus.CounterVec
	name, addr string
}

// SessionOpened counts a new client session.
func (u *UDPMetrics) SessionOpened() { u.sessions.Inc(); u.open.Add(1) }

// SessionClosed counts an ended client session.
func (u *UDPMetrics) SessionClosed() { u.sessions.Dec(); u.open.Add(-1) }

// SetSessions sets the open session count (for relays that report a total).
func (u *UDPMetrics) SetSessions(n int) { u.sessions.Set(float64(n)); u.open.Store(int64(n)) }

// Datagram counts n datagrams; up is client to backend.
func (u *UDPMetrics) Datagram(up bool, n int) {
	if up {
		u.up.Add(float64(n))
	} else {
		u.down.Add(float64(n))
	}
}

// Drop counts a dropped datagram with its reason (a short fixed word such as
// "max_sessions", "too_large", "backend_down"; never an address).
func (u *UDPMetrics) Drop(reason string) { u.drops.WithLabelValues(u.name, reason).Inc() }

// udpMetrics returns the counters for the udp block name, creating them on
// first use; address is shown on the status page.
func (g *Gateway) udpMetrics(name, address string) *UDPMetrics {
	g.mu.Lock()
	defer g.mu.Unlock()
	if u := g.udp[name]; u != nil {
		u.addr = address
		return u
	}
	m := g.metrics
	u := &UDPMetrics{
		sessions: m.udpSessions.WithLabelValues(name),
		up:       m.udpDatagrams.WithLabelValues(name, "up"),
		down:     m.udpDatagrams.WithLabelValues(name, "down"),
		drops:    m.udpDrops,
		name:     name,
		addr:     address,
	}
	g.udp[name] = u
	return u
}

// observeBackendTLS records the CertificateStatus of a TLS connection to one
// server of a backend: counted in flashgate_tls_backend_status_total and kept
// as the server's last status for /status. server is the address dialed.
func (g *Gateway) observeBackendTLS(backend, server, status string) {
	g.metrics.tlsStatus.WithLabelValues(backend, status).Inc()
	if gen := g.gen.Load(); gen != nil {
		if b := gen.pools[backend]; b != nil {
			for _, s := range b.servers {
				if s.addr == server {
					s.lastTLS.Store(&status)
				}
			}
		}
	}
}
