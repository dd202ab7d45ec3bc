package gateway

import (
	"slices"
	"time"

	"github.com/flashgate/flashgate/gateway/admin"
	"github.com/flashgate/flashgate/gateway/config"
)

// adminSource is what the admin server and the metrics read from the
// gateway: the status document, the drain state and the scrape-time gauges.
type adminSource struct{ g *Gateway }

var (
	_ admin.Source      = adminSource{}
	_ admin.GaugeSource = adminSource{}
)

// Status builds the current status document.
func (s adminSource) Status() *admin.Status { return s.g.status() }

// Draining reports a shutdown in progress.
func (s adminSource) Draining() bool { return s.g.draining.Load() }

// Gauges reads the open connections per listener (a removed listener while
// its connections drain too) and each backend server's health.
func (s adminSource) Gauges() admin.Gauges {
	var out admin.Gauges
	for _, l := range s.g.allListeners() {
		out.Listeners = append(out.Listeners, admin.ListenerGauge{Name: l.name, Active: l.active.Load()})
	}
	gen := s.g.gen.Load()
	if gen == nil {
		return out
	}
	for _, bc := range gen.cfg.Backends {
		b := gen.pools[bc.Name]
		if b == nil {
			continue
		}
		for i, sv := range b.servers {
			out.Servers = append(out.Servers, admin.ServerGauge{Backend: bc.Name, Index: i, Up: sv.up(), Active: sv.active.Load()})
		}
	}
	return out
}

// status builds the current status document, tallied.
func (g *Gateway) status() *admin.Status {
	now := time.Now()
	doc := &admin.Status{Time: now.UTC(), Draining: g.draining.Load()}
	if !g.started.IsZero() {
		doc.Uptime = now.Sub(g.started).Round(time.Second).String()
	}
	g.lmu.Lock()
	current := slices.Clone(g.listeners)
	g.lmu.Unlock()
	for _, l := range g.allListeners() {
		rt := l.route.Load()
		doc.Listeners = append(doc.Listeners, admin.ListenerStatus{
			Name: l.name, Address: l.ln.Addr().String(), Active: l.active.Load(),
			MaxConnections: rt.cfg.MaxConnections, MaxConnectionsPerIP: rt.cfg.MaxConnectionsPerIP,
			Policy: rt.cfg.Policy, Backend: rt.cfg.Backend, ProxyProtocol: rt.cfg.ProxyProtocol,
			TLS: rt.cfg.TLS != nil, Removed: !slices.Contains(current, l),
			Connections: l.metrics.Connections(), Rejections: l.metrics.Rejections(),
			PolicyAnswers: l.metrics.PolicyAnswers(),
		})
	}
	if gen := g.gen.Load(); gen != nil {
		protocols := backendProtocols(gen.cfg)
		for _, bc := range gen.cfg.Backends {
			if b := gen.pools[bc.Name]; b != nil {
				bs := backendStatus(b.state())
				bs.Protocol = protocols[bc.Name]
				doc.Backends = append(doc.Backends, bs)
			}
		}
		doc.Certificates = gen.served()
		g.mu.Lock()
		for _, uc := range gen.cfg.UDP {
			us := admin.UDPStatus{Name: uc.Name, Address: uc.Address, Backend: uc.Backend, MaxSessions: uc.MaxSessions}
			if u := g.udp[uc.Name]; u != nil {
				us.Sessions = u.Sessions()
				if u.addr != "" {
					us.Address = u.addr
				}
			}
			doc.UDP = append(doc.UDP, us)
		}
		g.mu.Unlock()
	}
	doc.Tally()
	return doc
}

// backendProtocols names what each backend of cfg carries for /status:
// "tcp" (listeners and websocket blocks), "udp" (udp blocks: the page then
// shows its servers as not checked, since no health check speaks UDP) or
// "tcp+udp".
func backendProtocols(cfg *config.Config) map[string]string {
	tcp, udp := map[string]bool{}, map[string]bool{}
	for _, lc := range cfg.Listeners {
		tcp[lc.Backend] = true
		for _, ws := range lc.WebSockets {
			tcp[ws.Backend] = true
		}
	}
	for _, uc := range cfg.UDP {
		udp[uc.Backend] = true
	}
	out := make(map[string]string, len(cfg.Backends))
	for _, bc := range cfg.Backends {
		switch {
		case udp[bc.Name] && tcp[bc.Name]:
			out[bc.Name] = "tcp+udp"
		case udp[bc.Name]:
			out[bc.Name] = "udp"
		default:
			out[bc.Name] = "tcp"
		}
	}
	return out
}

// backendStatus converts a pool's view of a backend to the document's.
func backendStatus(bs backendState) admin.BackendStatus {
	out := admin.BackendStatus{Name: bs.Name, Builtin: bs.Builtin, Balance: bs.Balance,
		HealthCheck: bs.HealthCheck, TLS: bs.TLS, Servers: make([]admin.ServerStatus, 0, len(bs.Servers))}
	for _, s := range bs.Servers {
		out.Servers = append(out.Servers, admin.ServerStatus(s))
	}
	return out
}

// served returns the certificates for /status: the files as read when the
// generation was built, and for ACME names the certificates the listener's
// terminator holds now (with issuer and expiry), or the names alone while
// none has been obtained yet.
func (gen *generation) served() []admin.Certificate {
	out := make([]admin.Certificate, 0, len(gen.certs))
	for _, c := range gen.certs {
		lt := gen.tls[c.Listener]
		if !c.ACME || lt == nil {
			out = append(out, c)
			continue
		}
		n := len(out)
		for _, ci := range lt.term.Certificates() {
			if ci.Source == "acme" {
				out = append(out, admin.Certificate{Listener: c.Listener, ACME: true, Names: ci.Names,
					Issuer: ci.Issuer, NotAfter: ci.NotAfter, DaysLeft: -1})
			}
		}
		if len(out) == n {
			out = append(out, c)
		}
	}
	return out
}

// loadCerts reads the certificate files of cfg's listeners for the status
// page (ACME names are listed by name; their certificates live in certmagic).
func loadCerts(cfg *config.Config) []admin.Certificate {
	var out []admin.Certificate
	for _, lc := range cfg.Listeners {
		t := lc.TLS
		if t == nil {
			continue
		}
		var files []string
		if t.CertFile != "" {
			files = append(files, t.CertFile)
		}
		for _, p := range t.Certificates {
			files = append(files, p.CertFile)
		}
		for _, f := range files {
			out = append(out, admin.CertificateFromFile(lc.Name, f))
		}
		if len(t.ACME) > 0 {
			out = append(out, admin.Certificate{Listener: lc.Name, ACME: true, Names: t.ACME, DaysLeft: -1})
		}
	}
	return out
}

// observeBackendTLS records the CertificateStatus of a TLS connection to one
// server of a backend: counted in flashgate_tls_backend_status_total and kept
// as the server's last status for /status. server is the address dialed.
func (g *Gateway) observeBackendTLS(backend, server, status string) {
	g.metrics.BackendTLS(backend, status)
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
