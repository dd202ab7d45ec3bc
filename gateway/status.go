package gateway

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"html/template"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// statusDoc is the /status JSON document and the status page's data.
type statusDoc struct {
	Time         time.Time        `json:"time"`
	Uptime       string           `json:"uptime"`
	Draining     bool             `json:"draining"`
	Listeners    []listenerStatus `json:"listeners"`
	Backends     []backendState   `json:"backends"`
	Certificates []certState      `json:"certificates"`
	UDP          []udpStatus      `json:"udp"`

	// For the page only.
	TotalActive    int64 `json:"-"`
	ServersUp      int   `json:"-"`
	ServersTotal   int   `json:"-"`
	CertsExpiring  int   `json:"-"`
	UDPSessions    int64 `json:"-"`
	RefreshSeconds int   `json:"-"`
}

// listenerStatus is one listener in /status.
type listenerStatus struct {
	Name                string            `json:"name"`
	Address             string            `json:"address"` // bound address
	Active              int64             `json:"active"`
	MaxConnections      int               `json:"max_connections"`
	MaxConnectionsPerIP int               `json:"max_connections_per_ip"`
	Policy              string            `json:"policy,omitempty"`
	Backend             string            `json:"backend,omitempty"`
	ProxyProtocol       string            `json:"proxy_protocol,omitempty"`
	TLS                 bool              `json:"tls"`
	Removed             bool              `json:"removed,omitempty"` // by a reload; connections draining
	Connections         map[string]uint64 `json:"connections_total"` // by kind
	PolicyAnswers       uint64            `json:"policy_answers_total"`
	Rejections          map[string]uint64 `json:"rejections_total"` // by reason
}

// certState is a served certificate in /status.
type certState struct {
	Listener string    `json:"listener"`
	File     string    `json:"file,omitempty"`
	ACME     bool      `json:"acme,omitempty"`
	Names    []string  `json:"names"`
	Issuer   string    `json:"issuer,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	DaysLeft int       `json:"days_left"`
	Error    string    `json:"error,omitempty"`
}

// served returns the certificates for /status: the files as read when the
// generation was built, and for ACME names the certificates the listener's
// terminator holds now (with issuer and expiry), or the names alone while
// none has been obtained yet.
func (gen *generation) served() []certState {
	out := make([]certState, 0, len(gen.certs))
	for _, c := range gen.certs {
		lt := gen.tls[c.Listener]
		if !c.ACME || lt == nil {
			out = append(out, c)
			continue
		}
		n := len(out)
		for _, ci := range lt.term.Certificates() {
			if ci.Source == "acme" {
				out = append(out, certState{Listener: c.Listener, ACME: true, Names: ci.Names,
					Issuer: ci.Issuer, NotAfter: ci.NotAfter, DaysLeft: -1})
			}
		}
		if len(out) == n {
			out = append(out, c)
		}
	}
	return out
}

// udpStatus is a udp block in /status.
type udpStatus struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	Backend     string `json:"backend"`
	Sessions    int64  `json:"sessions"`
	MaxSessions int    `json:"max_sessions"`
}

// loadCerts reads the certificate files of cfg's listeners for the status
// page (ACME names are listed by name; their certificates live in certmagic).
func loadCerts(cfg *Config) []certState {
	var out []certState
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
			out = append(out, readCert(lc.Name, f))
		}
		if len(t.ACME) > 0 {
			out = append(out, certState{Listener: lc.Name, ACME: true, Names: t.ACME, DaysLeft: -1})
		}
	}
	return out
}

func readCert(listener, file string) certState {
	cs := certState{Listener: listener, File: file, Names: []string{}, DaysLeft: -1}
	data, err := os.ReadFile(file)
	if err != nil {
		cs.Error = err.Error()
		return cs
	}
	for {
		var blk *pem.Block
		blk, data = pem.Decode(data)
		if blk == nil {
			cs.Error = "no CERTIFICATE block"
			return cs
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			cs.Error = err.Error()
			return cs
		}
		cs.Names = c.DNSNames
		for _, ip := range c.IPAddresses {
			cs.Names = append(cs.Names, ip.String())
		}
		if len(cs.Names) == 0 && c.Subject.CommonName != "" {
			cs.Names = []string{c.Subject.CommonName}
		}
		cs.Issuer = c.Issuer.CommonName
		cs.NotAfter = c.NotAfter.UTC()
		return cs
	}
}

// status builds the current status document.
func (g *Gateway) status() *statusDoc {
	now := time.Now()
	doc := &statusDoc{Time: now.UTC(), Draining: g.draining.Load(), RefreshSeconds: 5,
		Listeners: []listenerStatus{}, Backends: []backendState{}, Certificates: []certState{}, UDP: []udpStatus{}}
	if !g.started.IsZero() {
		doc.Uptime = now.Sub(g.started).Round(time.Second).String()
	}
	g.lmu.Lock()
	current := slices.Clone(g.listeners)
	g.lmu.Unlock()
	for _, l := range g.allListeners() {
		rt := l.route.Load()
		ls := listenerStatus{
			Name: l.name, Address: l.ln.Addr().String(), Active: l.active.Load(),
			MaxConnections: rt.cfg.MaxConnections, MaxConnectionsPerIP: rt.cfg.MaxConnectionsPerIP,
			Policy: rt.cfg.Policy, Backend: rt.cfg.Backend, ProxyProtocol: rt.cfg.ProxyProtocol,
			TLS: rt.cfg.TLS != nil, Removed: !slices.Contains(current, l),
			Connections: map[string]uint64{}, Rejections: map[string]uint64{},
			PolicyAnswers: counterValue(l.metrics.policy),
		}
		for k, c := range l.metrics.kinds {
			if v := counterValue(c); v > 0 {
				ls.Connections[Kind(k).String()] = v
			}
		}
		for r, c := range l.metrics.rejections {
			if v := counterValue(c); v > 0 {
				ls.Rejections[r] = v
			}
		}
		doc.TotalActive += ls.Active
		doc.Listeners = append(doc.Listeners, ls)
	}
	if gen := g.gen.Load(); gen != nil {
		for _, bc := range gen.cfg.Backends {
			if b := gen.pools[bc.Name]; b != nil {
				bs := b.state()
				for _, s := range bs.Servers {
					doc.ServersTotal++
					if s.Up {
						doc.ServersUp++
					}
				}
				doc.Backends = append(doc.Backends, bs)
			}
		}
		for _, c := range gen.served() {
			if !c.NotAfter.IsZero() {
				c.DaysLeft = int(c.NotAfter.Sub(now).Hours() / 24)
				if c.DaysLeft < 14 {
					doc.CertsExpiring++
				}
			}
			doc.Certificates = append(doc.Certificates, c)
		}
		g.mu.Lock()
		for _, uc := range gen.cfg.UDP {
			us := udpStatus{Name: uc.Name, Address: uc.Address, Backend: uc.Backend, MaxSessions: uc.MaxSessions}
			if u := g.udp[uc.Name]; u != nil {
				us.Sessions = u.open.Load()
				if u.addr != "" {
					us.Address = u.addr
				}
			}
			doc.UDPSessions += us.Sessions
			doc.UDP = append(doc.UDP, us)
		}
		g.mu.Unlock()
	}
	return doc
}

// counterValue reads a counter's value (for /status; scrapes do the same).
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

//go:embed status.html
var statusHTML string

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"join": strings.Join,
	"pct": func(a int64, b int) string {
		if b <= 0 {
			return ""
		}
		return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.Format("2006-01-02 15:04 MST")
	},
	"kinds": func(m map[string]uint64) string {
		var parts []string
		for _, k := range kindNames {
			if v := m[k]; v > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, v))
			}
		}
		return strings.Join(parts, " · ")
	},
	"total": func(m map[string]uint64) uint64 {
		var n uint64
		for _, v := range m {
			n += v
		}
		return n
	},
}).Parse(statusHTML))
