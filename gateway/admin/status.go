package admin

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"html/template"
	"os"
	"strings"
	"time"
)

// Status is the /status JSON document and the status page's data. Its JSON
// field names are a contract. A Source fills the lists; Tally derives the
// rest.
type Status struct {
	Time         time.Time        `json:"time"`
	Version      string           `json:"version"` // the build (BuildVersion); the server fills it
	Uptime       string           `json:"uptime"`
	Draining     bool             `json:"draining"`
	Listeners    []ListenerStatus `json:"listeners"`
	Backends     []BackendStatus  `json:"backends"`
	Certificates []Certificate    `json:"certificates"`
	UDP          []UDPStatus      `json:"udp"`

	// Derived by Tally, for the page only.
	TotalActive   int64 `json:"-"`
	ServersUp     int   `json:"-"`
	ServersTotal  int   `json:"-"`
	CertsExpiring int   `json:"-"`
	UDPSessions   int64 `json:"-"`
}

// ListenerStatus is one listener in /status.
type ListenerStatus struct {
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

// BackendStatus is a backend in /status.
type BackendStatus struct {
	Name        string `json:"name"`
	Builtin     string `json:"builtin,omitempty"`
	Balance     string `json:"balance,omitempty"`
	HealthCheck string `json:"health_check,omitempty"`
	TLS         bool   `json:"tls"`
	// Protocol is what the backend carries: "tcp", "udp" (named by udp
	// blocks only: no TCP health check applies, so its servers' Up means
	// "not checked") or "tcp+udp".
	Protocol string         `json:"protocol,omitempty"`
	Servers  []ServerStatus `json:"servers"`
}

// UDPOnly reports a backend only udp blocks use: its health is not checked.
func (b *BackendStatus) UDPOnly() bool { return b.Protocol == "udp" }

// ServerStatus is one server of a backend in /status: its health as the
// gateway sees it.
type ServerStatus struct {
	Address       string    `json:"address"`
	Up            bool      `json:"up"`
	Active        int64     `json:"active"`
	DownUntil     time.Time `json:"down_until,omitzero"`
	LastError     string    `json:"last_error,omitempty"`
	LastTLSStatus string    `json:"last_tls_status,omitempty"`
}

// Certificate is a served certificate in /status. DaysLeft is -1 when the
// expiry is unknown.
type Certificate struct {
	Listener string    `json:"listener"`
	File     string    `json:"file,omitempty"`
	ACME     bool      `json:"acme,omitempty"`
	Names    []string  `json:"names"`
	Issuer   string    `json:"issuer,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
	DaysLeft int       `json:"days_left"`
	Error    string    `json:"error,omitempty"`
}

// UDPStatus is a udp block in /status.
type UDPStatus struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	Backend     string `json:"backend"`
	Sessions    int64  `json:"sessions"`
	MaxSessions int    `json:"max_sessions"`
}

// expiringDays: a certificate with fewer days left is counted as expiring.
const expiringDays = 14

// Tally derives what the lists imply: each certificate's DaysLeft (from
// its NotAfter and s.Time) and the page's totals. Nil lists and maps become
// empty ones, so the JSON shows [] and {} rather than null. It may be
// called more than once.
func (s *Status) Tally() {
	if s.Time.IsZero() {
		s.Time = time.Now().UTC()
	}
	s.Listeners = nonNil(s.Listeners)
	s.Backends = nonNil(s.Backends)
	s.Certificates = nonNil(s.Certificates)
	s.UDP = nonNil(s.UDP)
	s.TotalActive, s.ServersUp, s.ServersTotal, s.CertsExpiring, s.UDPSessions = 0, 0, 0, 0, 0
	for i := range s.Listeners {
		l := &s.Listeners[i]
		if l.Connections == nil {
			l.Connections = map[string]uint64{}
		}
		if l.Rejections == nil {
			l.Rejections = map[string]uint64{}
		}
		s.TotalActive += l.Active
	}
	for i := range s.Backends {
		b := &s.Backends[i]
		b.Servers = nonNil(b.Servers)
		if b.UDPOnly() {
			continue // not checked: counted neither up nor down
		}
		for _, sv := range b.Servers {
			s.ServersTotal++
			if sv.Up {
				s.ServersUp++
			}
		}
	}
	for i := range s.Certificates {
		c := &s.Certificates[i]
		c.Names = nonNil(c.Names)
		if !c.NotAfter.IsZero() {
			c.DaysLeft = int(c.NotAfter.Sub(s.Time).Hours() / 24)
			if c.DaysLeft < expiringDays {
				s.CertsExpiring++
			}
		}
	}
	for _, u := range s.UDP {
		s.UDPSessions += u.Sessions
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// CertificateFromFile reads the first certificate of a PEM file for the
// status page; a file that cannot be read or parsed is reported in Error.
func CertificateFromFile(listener, file string) Certificate {
	cs := Certificate{Listener: listener, File: file, Names: []string{}, DaysLeft: -1}
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

//go:embed status.html
var statusHTML string

// pageRefresh is how often the status page reloads itself.
const pageRefresh = 5 * time.Second

// pageData is what status.html renders.
type pageData struct {
	*Status
	RefreshSeconds int
	Charts         []chart
	SampleSeconds  float64
}

// newPage parses status.html; kinds orders the connection kinds shown.
func newPage(kinds []string) (*template.Template, error) {
	t, err := template.New("status").Funcs(template.FuncMap{
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
			for _, k := range kinds {
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
	}).Parse(statusHTML)
	if err != nil {
		return nil, fmt.Errorf("admin: status page template: %w", err)
	}
	return t, nil
}
