package gateway

import (
	"context"
	"net"

	"github.com/flashgate/flashgate/gateway/admin"
	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/wire"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// This file links the gateway to package admin: the admin server's
// lifecycle, the metrics built with the gateway's kinds and rejection
// reasons, and (below the line marked SHIMS) thin wrappers that keep the
// call sites written before admin was a package compiling unchanged.
// snapshot.go builds what admin reads.

// Rejection reasons, as counted in flashgate_rejections_total{reason}.
const (
	rejectMaxConns    = "max_connections"
	rejectMaxPerIP    = "max_connections_per_ip"
	rejectProxyHeader = "proxy_header"
)

var rejectReasons = []string{rejectMaxConns, rejectMaxPerIP, rejectProxyHeader}

// adminServer is the running admin server and the address it was opened
// for (a reload compares it).
type adminServer struct {
	*admin.Server
	address string // as configured
}

// listenAdmin opens the admin socket for ac; start serves it.
func (g *Gateway) listenAdmin(ctx context.Context, ac *config.Admin) (*adminServer, error) {
	s, err := admin.Listen(ctx, admin.Config{Address: ac.Address, Token: ac.Token, Pprof: ac.Pprof,
		Source: adminSource{g}, Metrics: g.metrics.Metrics, Log: g.log})
	if err != nil {
		return nil, err
	}
	return &adminServer{Server: s, address: ac.Address}, nil
}

// AdminAddr returns the bound address of the admin server, or nil.
func (g *Gateway) AdminAddr() net.Addr {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.admin == nil {
		return nil
	}
	return g.admin.Addr()
}

// swapAdmin applies a reloaded admin block: next is a newly opened server
// (address changed) or nil. Called with reloadMu held.
func (g *Gateway) swapAdmin(ac *config.Admin, next *adminServer) {
	old := g.admin
	switch {
	case ac == nil:
		g.admin = nil
	case next != nil:
		g.admin = next
		if g.running {
			next.start()
		}
	default:
		old.SetToken(ac.Token)
		return
	}
	if old != nil {
		if g.running {
			go old.stop()
		} else {
			_ = old.Close()
		}
	}
}

// ---- SHIMS: old spellings kept so call sites across package gateway need
// no edit while the rooms are split. Each maps onto package admin:
//
//	newMetrics(g), g.metrics           → admin.NewMetrics, *admin.Metrics
//	g.metrics.forListener(name)        → (*admin.Metrics).Listener
//	l.metrics.connection(kind, up, dn) → (*admin.ListenerMetrics).Connection
//	l.metrics.policy.Inc()             → (*admin.ListenerMetrics).PolicyServed
//	l.metrics.rejections[r].Inc(),
//	l.metrics.rejectVec...Inc()        → (*admin.ListenerMetrics).Rejected
//	g.udpMetrics(name, addr)           → (*admin.Metrics).UDP (+ address kept here)
//	u.drops.WithLabelValues(n, r).Add  → (*admin.UDPMetrics).DropN
//	g.metrics.dialErrors...            → (*admin.Metrics).DialErrors
//	g.metrics.udpDrops/udpDatagrams... → (*admin.UDPMetrics).Dropped/Datagrams (tests)
//	a.start(), a.stop()                → (*admin.Server).Start, Stop
//	certState                          → admin.Certificate
//	counterValue(c)                    → reads what the above return (tests)

// certState is a served certificate in /status.
type certState = admin.Certificate

// serverStatus is a backend server in /status.
type serverStatus = admin.ServerStatus

func (a *adminServer) start() { a.Start() }
func (a *adminServer) stop()  { a.Stop() }

// metrics is the gateway's admin.Metrics with the vectors older code and
// tests index by label.
type metrics struct {
	*admin.Metrics
	dialErrors   backendCounters
	udpDrops     udpReadings
	udpDatagrams udpReadings
}

func newMetrics(g *Gateway) *metrics {
	m := admin.NewMetrics(admin.MetricsOptions{Kinds: kindNames[:], RejectReasons: rejectReasons, Gauges: adminSource{g}})
	return &metrics{
		Metrics:    m,
		dialErrors: backendCounters{m},
		udpDrops: udpReadings{m, func(u *admin.UDPMetrics, reason string) uint64 {
			return u.Dropped(reason)
		}},
		udpDatagrams: udpReadings{m, func(u *admin.UDPMetrics, dir string) uint64 {
			return u.Datagrams(dir == "up")
		}},
	}
}

// backendCounters spells (*admin.Metrics).DialErrors as a vector.
type backendCounters struct{ m *admin.Metrics }

func (b backendCounters) WithLabelValues(backend string) prometheus.Counter {
	return b.m.DialErrors(backend)
}

// udpReadings reads one UDP counter by its labels (tests).
type udpReadings struct {
	m    *admin.Metrics
	read func(u *admin.UDPMetrics, label string) uint64
}

// reading is a counter's value, read when asked.
type reading func() uint64

func (r udpReadings) WithLabelValues(udp, label string) reading {
	return func() uint64 { return r.read(r.m.UDP(udp), label) }
}

// counterValue reads a prometheus.Counter or a reading (tests).
func counterValue(c any) uint64 {
	switch c := c.(type) {
	case reading:
		return c()
	case prometheus.Counter:
		var m dto.Metric
		if c.Write(&m) != nil || m.Counter == nil {
			return 0
		}
		return uint64(m.Counter.GetValue())
	}
	return 0
}

// incFunc spells a call as a counter's Inc.
type incFunc func()

func (f incFunc) Inc() { f() }

// rejectCounters spells (*admin.ListenerMetrics).Rejected as a vector.
type rejectCounters struct{ lm *admin.ListenerMetrics }

func (r rejectCounters) WithLabelValues(_, reason string) incFunc {
	return func() { r.lm.Rejected(reason) }
}

// listenerMetrics are one listener's admin handles.
type listenerMetrics struct {
	*admin.ListenerMetrics
	policy     incFunc
	rejections map[string]incFunc
	rejectVec  rejectCounters
}

func (m *metrics) forListener(name string) *listenerMetrics {
	lm := m.Listener(name)
	out := &listenerMetrics{ListenerMetrics: lm, policy: lm.PolicyServed,
		rejections: make(map[string]incFunc, len(rejectReasons)), rejectVec: rejectCounters{lm}}
	for _, r := range rejectReasons {
		out.rejections[r] = func() { lm.Rejected(r) }
	}
	return out
}

// connection counts a finished connection: its kind and its bytes.
func (lm *listenerMetrics) connection(kind wire.Kind, up, down int64) {
	lm.Connection(int(kind), up, down)
}

// UDPMetrics are the counters of one udp block, obtained once with
// (*Gateway).udpMetrics and called by the UDP relay integration, with the
// address shown on the status page.
type UDPMetrics struct {
	*admin.UDPMetrics
	name, addr string
	drops      udpDropCounters
}

// udpDropCounters spells (*admin.UDPMetrics).DropN as a vector.
type udpDropCounters struct{ u *admin.UDPMetrics }

// udpDropAdder adds to one reason's drops.
type udpDropAdder struct {
	u      *admin.UDPMetrics
	reason string
}

func (d udpDropCounters) WithLabelValues(_, reason string) udpDropAdder {
	return udpDropAdder{d.u, reason}
}

func (a udpDropAdder) Add(v float64) { a.u.DropN(a.reason, uint64(v)) }

// udpMetrics returns the counters for the udp block name, creating them on
// first use; address is shown on the status page.
func (g *Gateway) udpMetrics(name, address string) *UDPMetrics {
	g.mu.Lock()
	defer g.mu.Unlock()
	if u := g.udp[name]; u != nil {
		u.addr = address
		return u
	}
	um := g.metrics.UDP(name)
	u := &UDPMetrics{UDPMetrics: um, name: name, addr: address, drops: udpDropCounters{um}}
	g.udp[name] = u
	return u
}

// kindNames names every Kind, in order (metrics and status iterate it).
var kindNames = func() (n [wire.NumKinds]string) {
	for k := range n {
		n[k] = wire.Kind(k).String()
	}
	return n
}()
