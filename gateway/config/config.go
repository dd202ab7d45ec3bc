package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/flashgate/flashgate/policyfile"
)

// Config is a decoded, validated flashgate configuration. It is plain data:
// loading it opens no socket. Every field has its default filled in.
type Config struct {
	// File is the path the config was read from; Dir is its directory, from
	// which relative file paths were resolved.
	File string
	Dir  string

	ShutdownTimeout time.Duration // default 30s
	Log             Log
	Admin           *Admin // nil: no admin listener
	ACME            *ACME  // nil: no ACME

	Policies  []*Policy
	Listeners []*Listener
	Backends  []*Backend
	UDP       []*UDP

	// Warnings holds the warning diagnostics of loading (e.g. policy file
	// lint warnings), each formatted like an error: "FILE:LINE:COL: warning:
	// SUMMARY: DETAIL" followed by the source line and a caret line.
	Warnings []string
}

// Log is the log block.
type Log struct {
	Level  string // debug | info | warn | error (default info)
	Format string // console | json (default console)
}

// Admin is the admin block.
type Admin struct {
	Address string // default 127.0.0.1:9843
	Token   string // optional bearer token; never "" when the attribute is set
	// Pprof serves Go's profiler at /debug/pprof/ (behind Token like every
	// other endpoint). Default false: the profiler is off.
	Pprof bool
}

// ACME is the acme block.
type ACME struct {
	Email   string
	CA      string // directory URL
	CARoot  string // absolute path of an extra root for the CA's API, or ""
	Storage string // absolute path of certmagic file storage, or ""
	Redis   *Redis // shared storage instead of Storage
}

// Redis is the acme.redis block.
type Redis struct {
	Address   string
	Password  string
	DB        int
	KeyPrefix string // default "flashgate"
	TLS       bool
}

// Policy is a policy block, with its policy built: from allow blocks,
// or parsed from File.
type Policy struct {
	Name        string
	SiteControl string  // none | master-only | all, or "" when unset
	Allow       []Allow // empty when File is set
	File        string  // absolute path, or ""
	Policy      *policyfile.Policy
	DefRange    hcl.Range
}

// Allow is one allow block of a policy.
type Allow struct {
	Domain string
	Ports  string
	Secure *bool
	Range  hcl.Range
}

// Listener is a listener block.
type Listener struct {
	Name                string
	Address             string
	Policy              string        // policy name or ""
	Backend             string        // backend name or "" (policy server)
	Protocol            string        // binary (default) | xml
	SniffTimeout        time.Duration // default 300ms
	IdleTimeout         time.Duration // default 10m; 0 disables
	MaxMessage          int64         // xml: default 1MiB
	MaxConnections      int           // default 10000; 0 = unlimited
	MaxConnectionsPerIP int           // default 0 = unlimited
	ProxyProtocol       string        // "", v1, v2
	ReusePort           bool
	TLS                 *ListenerTLS // nil: no termination
	WebSockets          []*WebSocket
	DefRange            hcl.Range
}

// ListenerTLS is a listener's tls block. File paths are absolute.
type ListenerTLS struct {
	CertFile     string
	KeyFile      string
	ACME         []string // names to obtain through ACME
	Certificates []CertPair
	MinVersion   string // "1.0" | "1.1" | "1.2" (default) | "1.3"
}

// CertPair is a certificate and its key, absolute paths.
type CertPair struct {
	CertFile string
	KeyFile  string
}

// WebSocket is a websocket "PATH" block.
type WebSocket struct {
	Path     string
	Backend  string // default: the listener's
	Protocol string // default: the listener's
	DefRange hcl.Range
}

// Backend is a backend block.
type Backend struct {
	Name           string
	Address        []string      // host:port with a numeric port (service names resolved at load), tried in order
	Builtin        string        // "echo", or ""
	ConnectTimeout time.Duration // default 5s
	ProxyProtocol  string        // "", v1, v2
	Framing        string        // nul (default) | line
	Balance        string        // round_robin (default) | least_conn
	HealthCheck    *HealthCheck  // nil: passive health only
	TLS            *BackendTLS
	DefRange       hcl.Range
}

// HealthCheck is a backend's health_check block: every Interval each
// address is dialed (TCP connect, then closed) with Timeout.
type HealthCheck struct {
	Interval time.Duration // default 5s
	Timeout  time.Duration // default 1s
}

// BackendTLS is a backend's tls block (TLS origination).
type BackendTLS struct {
	ServerName string
	CAFile     string // absolute path, or "" for the system roots
	Require    string // trusted (default) | report
	Revocation string // soft (default) | required | off
}

// UDP is a udp block.
type UDP struct {
	Name        string
	Address     string
	Backend     string
	IdleTimeout time.Duration // default 60s
	MaxDatagram int           // default 65507
	MaxSessions int           // default 10000
	DefRange    hcl.Range
}

// Policy returns the policy block named name, or nil.
func (c *Config) Policy(name string) *Policy {
	for _, p := range c.Policies {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Backend returns the backend block named name, or nil.
func (c *Config) Backend(name string) *Backend {
	for _, b := range c.Backends {
		if b.Name == name {
			return b
		}
	}
	return nil
}
