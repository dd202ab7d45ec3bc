package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/flashgate/flashgate/policyfile"
)

// Defaults filled in by the loader for attributes and blocks left out.
const (
	defaultShutdownTimeout = 30 * time.Second
	defaultAdminAddress    = "127.0.0.1:9843"
	defaultSniffTimeout    = 300 * time.Millisecond
	defaultIdleTimeout     = 10 * time.Minute
	defaultMaxMessage      = 1 << 20 // 1MiB
	defaultMaxConnections  = 10000
	defaultConnectTimeout  = 5 * time.Second
	defaultHealthInterval  = 5 * time.Second
	defaultHealthTimeout   = 1 * time.Second
	defaultUDPIdleTimeout  = 60 * time.Second
	maxUDPDatagram         = 65507 // largest UDP payload over IPv4
	defaultMaxSessions     = 10000
	defaultRedisKeyPrefix  = "flashgate"
)

// Load reads, decodes and validates the config file at path.
//
// An invalid config yields a *Error whose Error lists every problem as
// "FILE:LINE:COL: message" with the offending source line. The file must be
// a regular file of at most 1 MiB, the limit file() applies too, so a device
// such as /dev/zero cannot fill memory and a FIFO cannot hang the loader;
// anything else, or a file that cannot be read, is an error naming path.
func Load(path string) (*Config, error) {
	src, err := readSmallFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return Parse(src, path)
}

// Parse decodes and validates src as if read from filename (relative
// paths resolve from filepath.Dir(filename)).
//
// Values: durations are Go duration strings ("300ms", "5m"), never negative.
// Sizes are a whole number of bytes, or a string with a unit: B, KB/MB/GB
// (powers of 1000) or KiB/MiB/GiB (powers of 1024), any case, e.g. "64KiB".
// Addresses are "host:port" with a numeric port and IPv6 hosts in brackets
// ("[::]:843"); listening addresses (listener, udp, admin) take an IP, an
// empty host or "localhost", and may use port 0; backend and redis addresses
// may name a host. A backend address may give its port as a service name
// ("host:http"): it is resolved here with net.LookupPort, so every backend
// address in the Config has a numeric port. A null value counts as unset. The functions env("NAME")
// ("" when unset) and file("path") (a regular file of at most 1 MiB, relative
// to the config's directory) are available; variables are not. An admin
// token that comes out empty (env() of an unset variable) is an error, not
// an admin without a token. Files the config names are read and parsed
// (files.go, flash.go).
func Parse(src []byte, filename string) (*Config, error) {
	dir := filepath.Dir(filename)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	d := &decoder{
		filename: filename,
		dir:      dir,
		files:    map[string]*hcl.File{},
	}
	d.ctx = &hcl.EvalContext{Functions: functions(dir)}

	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if f != nil {
		d.files[filename] = f
	}
	d.diags = append(d.diags, diags...)
	var cfg *Config
	if !diags.HasErrors() && f != nil {
		cfg = d.decodeRoot(f.Body)
	}
	if d.diags.HasErrors() || cfg == nil {
		return nil, &Error{Diags: d.diags, Files: d.files, filename: filename}
	}
	for _, diag := range sortDiags(d.diags) {
		if diag.Severity == hcl.DiagWarning {
			cfg.Warnings = append(cfg.Warnings, formatDiag(diag, d.files, filename))
		}
	}
	return cfg, nil
}

// decoder decodes one config file, collecting every diagnostic instead of
// stopping at the first.
type decoder struct {
	filename string
	dir      string
	ctx      *hcl.EvalContext
	files    map[string]*hcl.File
	diags    hcl.Diagnostics
	refs     []blockRef
	services []serviceRef
}

func (d *decoder) errorf(rng hcl.Range, detail, summary string, args ...any) {
	r := rng
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf(summary, args...),
		Detail:   detail,
		Subject:  &r,
	})
}

var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "shutdown_timeout"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "log"},
		{Type: "admin"},
		{Type: "acme"},
		{Type: "policy", LabelNames: []string{"name"}},
		{Type: "listener", LabelNames: []string{"name"}},
		{Type: "backend", LabelNames: []string{"name"}},
		{Type: "udp", LabelNames: []string{"name"}},
	},
}

func (d *decoder) decodeRoot(body hcl.Body) *Config {
	cfg := &Config{
		File:            d.filename,
		Dir:             d.dir,
		ShutdownTimeout: defaultShutdownTimeout,
		Log:             Log{Level: "info", Format: "console"},
	}
	content, diags := body.Content(rootSchema)
	d.diags = append(d.diags, diags...)
	if content == nil {
		return cfg
	}
	d.duration(content.Attributes, "shutdown_timeout", &cfg.ShutdownTimeout)

	singles := map[string]*hcl.Block{}
	names := map[string]map[string]*hcl.Block{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "log", "admin", "acme":
			if first := singles[b.Type]; first != nil {
				d.errorf(b.DefRange, "", "duplicate %s block: the first is at %s", b.Type, posText(first.DefRange))
				continue
			}
			singles[b.Type] = b
		default:
			if len(b.Labels) != 1 {
				continue
			}
			name := b.Labels[0]
			if name == "" {
				d.errorf(b.LabelRanges[0], "", "empty %s name", b.Type)
				continue
			}
			if names[b.Type] == nil {
				names[b.Type] = map[string]*hcl.Block{}
			}
			if first := names[b.Type][name]; first != nil {
				d.errorf(b.DefRange, "", "duplicate %s %q: the first is at %s", b.Type, name, posText(first.DefRange))
				continue
			}
			names[b.Type][name] = b
		}
		switch b.Type {
		case "log":
			d.decodeLog(b, &cfg.Log)
		case "admin":
			cfg.Admin = d.decodeAdmin(b)
		case "acme":
			cfg.ACME = d.decodeACME(b)
		case "policy":
			cfg.Policies = append(cfg.Policies, d.decodePolicy(b))
		case "listener":
			cfg.Listeners = append(cfg.Listeners, d.decodeListener(b))
		case "backend":
			cfg.Backends = append(cfg.Backends, d.decodeBackend(b))
		case "udp":
			cfg.UDP = append(cfg.UDP, d.decodeUDP(b))
		}
	}
	d.resolve(cfg)
	if !d.diags.HasErrors() {
		d.addDiags(validateFlashRules(cfg), hcl.Range{})
	}
	return cfg
}

// addDiags appends diagnostics from another component; those without a
// subject get fallback (when it is set) so they still point into the config.
// Files they point into that are not HCL are read so the snippet shows.
func (d *decoder) addDiags(diags hcl.Diagnostics, fallback hcl.Range) {
	for _, diag := range diags {
		if diag == nil {
			continue
		}
		if diag.Subject == nil && fallback.Filename != "" {
			r := fallback
			diag.Subject = &r
		}
		if diag.Subject != nil {
			name := diag.Subject.Filename
			if _, ok := d.files[name]; !ok && name != "" {
				if b, err := os.ReadFile(name); err == nil {
					d.files[name] = &hcl.File{Bytes: b}
				} else {
					d.files[name] = nil
				}
			}
		}
		d.diags = append(d.diags, diag)
	}
}

// --- blocks ---

var logSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "level"}, {Name: "format"}}}

func (d *decoder) decodeLog(b *hcl.Block, lc *Log) {
	c := d.content(b, logSchema)
	d.enum(c.Attributes, "level", &lc.Level, "debug", "info", "warn", "error")
	d.enum(c.Attributes, "format", &lc.Format, "console", "json")
}

var adminSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "address"}, {Name: "token"}, {Name: "pprof"}}}

func (d *decoder) decodeAdmin(b *hcl.Block) *Admin {
	c := d.content(b, adminSchema)
	ac := &Admin{Address: defaultAdminAddress}
	rng, ok := d.address(c.Attributes, "address", &ac.Address, addrBind)
	if rng, ok := d.str(c.Attributes, "token", &ac.Token); ok && ac.Token == "" {
		d.emptyToken(c.Attributes["token"], rng)
	}
	d.boolean(c.Attributes, "pprof", &ac.Pprof)
	if ok && ac.Token == "" && !loopback(ac.Address) {
		r := rng
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  fmt.Sprintf("admin address %q is not loopback and has no token", ac.Address),
			Detail:   "/status, /metrics and /debug/pprof (when pprof = true) are open to anyone who can reach it: set token = env(\"FLASHGATE_ADMIN_TOKEN\") or bind 127.0.0.1",
			Subject:  &r,
		})
	}
	return ac
}

// loopback reports whether a bind address listens on loopback only.
func loopback(address string) bool {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

var acmeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "email"}, {Name: "ca"}, {Name: "ca_root"}, {Name: "storage"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "redis"}},
}

var redisSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "address"}, {Name: "password"}, {Name: "db"}, {Name: "key_prefix"}, {Name: "tls"},
}}

func (d *decoder) decodeACME(b *hcl.Block) *ACME {
	c := d.content(b, acmeSchema)
	ac := &ACME{}
	d.str(c.Attributes, "email", &ac.Email)
	if rng, ok := d.str(c.Attributes, "ca", &ac.CA); ok {
		if !strings.HasPrefix(ac.CA, "https://") && !strings.HasPrefix(ac.CA, "http://") {
			d.errorf(rng, "", "invalid ca %q: must be the ACME directory URL (https://...)", ac.CA)
		}
	}
	if rng, ok := d.path(c.Attributes, "ca_root", &ac.CARoot); ok {
		d.checkCAFile("ca_root", ac.CARoot, rng)
	}
	storageRng, hasStorage := d.path(c.Attributes, "storage", &ac.Storage)
	for _, rb := range c.Blocks {
		if ac.Redis != nil {
			d.errorf(rb.DefRange, "", "duplicate redis block in acme")
			continue
		}
		rc := d.content(rb, redisSchema)
		r := &Redis{KeyPrefix: defaultRedisKeyPrefix}
		d.address(rc.Attributes, "address", &r.Address, addrDial)
		if !d.given(rc.Attributes, "address") {
			d.missing(rb, "address", "acme redis")
		}
		d.str(rc.Attributes, "password", &r.Password)
		d.integer(rc.Attributes, "db", &r.DB, 0, 1<<20)
		d.str(rc.Attributes, "key_prefix", &r.KeyPrefix)
		d.boolean(rc.Attributes, "tls", &r.TLS)
		ac.Redis = r
		if hasStorage {
			d.errorf(storageRng, "use either storage or a redis block", "acme has both storage and redis")
		}
	}
	return ac
}

var policySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "site_control"}, {Name: "file"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "allow"}},
}

var allowSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "domain"}, {Name: "ports"}, {Name: "secure"},
}}

func (d *decoder) decodePolicy(b *hcl.Block) *Policy {
	pc := &Policy{Name: b.Labels[0], DefRange: b.DefRange}
	owner := fmt.Sprintf("policy %q", pc.Name)
	c := d.content(b, policySchema)
	d.enum(c.Attributes, "site_control", &pc.SiteControl, policyfile.None, policyfile.MasterOnly, policyfile.All)
	fileRng, hasFile := d.path(c.Attributes, "file", &pc.File)
	switch {
	case hasFile && len(c.Blocks) > 0:
		d.errorf(fileRng, "write the rules either as allow blocks or in the file", "%s has both file and allow blocks", owner)
	case !hasFile && len(c.Blocks) == 0 && !d.given(c.Attributes, "file"):
		d.errorf(b.DefRange, "a policy needs allow blocks or file = \"crossdomain.xml\"", "%s has no allow blocks and no file", owner)
	}
	if hasFile && len(c.Blocks) == 0 {
		d.addDiags(loadPolicyFile(pc), fileRng)
		d.addDiags(checkPolicySize(pc), hcl.Range{})
	}
	if hasFile || len(c.Blocks) == 0 {
		return pc
	}
	pol := &policyfile.Policy{SiteControl: pc.SiteControl}
	for _, ab := range c.Blocks {
		ac := d.content(ab, allowSchema)
		a := Allow{Range: ab.DefRange}
		if rng, ok := d.str(ac.Attributes, "domain", &a.Domain); ok {
			if err := checkDomain(a.Domain); err != nil {
				d.errorf(rng, err.Error(), "invalid domain %q", a.Domain)
			}
		} else if !d.given(ac.Attributes, "domain") {
			d.missing(ab, "domain", owner+" allow")
		}
		if rng, ok := d.str(ac.Attributes, "ports", &a.Ports); ok {
			if err := checkPorts(a.Ports); err != nil {
				d.errorf(rng, err.Error(), "invalid ports %q", a.Ports)
			}
		} else if !d.given(ac.Attributes, "ports") {
			d.missing(ab, "ports", owner+" allow")
		}
		var secure bool
		if _, ok := d.boolean(ac.Attributes, "secure", &secure); ok {
			a.Secure = policyfile.Bool(secure)
		}
		pc.Allow = append(pc.Allow, a)
		pol.Allow = append(pol.Allow, policyfile.Allow{Domain: a.Domain, ToPorts: a.Ports, Secure: a.Secure})
	}
	pc.Policy = pol
	d.addDiags(checkPolicySize(pc), hcl.Range{})
	return pc
}

var listenerSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "address"}, {Name: "policy"}, {Name: "backend"}, {Name: "protocol"},
		{Name: "sniff_timeout"}, {Name: "idle_timeout"}, {Name: "max_message"},
		{Name: "max_connections"}, {Name: "max_connections_per_ip"},
		{Name: "proxy_protocol"}, {Name: "reuse_port"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "tls"},
		{Type: "websocket", LabelNames: []string{"path"}},
	},
}

func (d *decoder) decodeListener(b *hcl.Block) *Listener {
	l := &Listener{
		Name:           b.Labels[0],
		Protocol:       "binary",
		SniffTimeout:   defaultSniffTimeout,
		IdleTimeout:    defaultIdleTimeout,
		MaxMessage:     defaultMaxMessage,
		MaxConnections: defaultMaxConnections,
		DefRange:       b.DefRange,
	}
	owner := fmt.Sprintf("listener %q", l.Name)
	c := d.content(b, listenerSchema)
	d.address(c.Attributes, "address", &l.Address, addrBind)
	if !d.given(c.Attributes, "address") {
		d.missing(b, "address", owner)
	}
	if rng, ok := d.str(c.Attributes, "policy", &l.Policy); ok {
		d.ref("policy", l.Policy, owner, rng)
	}
	if rng, ok := d.str(c.Attributes, "backend", &l.Backend); ok {
		d.ref("backend", l.Backend, owner, rng)
	}
	d.enum(c.Attributes, "protocol", &l.Protocol, "binary", "xml")
	if rng, ok := d.duration(c.Attributes, "sniff_timeout", &l.SniffTimeout); ok && l.SniffTimeout == 0 {
		d.errorf(rng, "", "invalid sniff_timeout \"0\": must be positive")
	}
	d.duration(c.Attributes, "idle_timeout", &l.IdleTimeout)
	d.size(c.Attributes, "max_message", &l.MaxMessage)
	d.integer(c.Attributes, "max_connections", &l.MaxConnections, 0, 1<<31-1)
	d.integer(c.Attributes, "max_connections_per_ip", &l.MaxConnectionsPerIP, 0, 1<<31-1)
	d.enum(c.Attributes, "proxy_protocol", &l.ProxyProtocol, "", "v1", "v2")
	d.boolean(c.Attributes, "reuse_port", &l.ReusePort)

	if l.Policy == "" && l.Backend == "" {
		d.errorf(b.DefRange, "a listener answers policy requests (policy), relays to a backend (backend), or both",
			"%s needs a policy or a backend", owner)
	}
	paths := map[string]hcl.Range{}
	for _, sb := range c.Blocks {
		switch sb.Type {
		case "tls":
			if l.TLS != nil {
				d.errorf(sb.DefRange, "", "duplicate tls block in %s", owner)
				continue
			}
			l.TLS = d.decodeListenerTLS(sb, owner)
		case "websocket":
			ws := &WebSocket{Path: sb.Labels[0], Backend: l.Backend, Protocol: l.Protocol, DefRange: sb.DefRange}
			wsOwner := fmt.Sprintf("websocket %q of %s", ws.Path, owner)
			if !strings.HasPrefix(ws.Path, "/") {
				d.errorf(sb.LabelRanges[0], "", "invalid websocket path %q: must start with \"/\"", ws.Path)
			} else if first, dup := paths[ws.Path]; dup {
				d.errorf(sb.DefRange, "", "duplicate websocket %q in %s: the first is at %s", ws.Path, owner, posText(first))
			}
			paths[ws.Path] = sb.DefRange
			wc := d.content(sb, webSocketSchema)
			if rng, ok := d.str(wc.Attributes, "backend", &ws.Backend); ok {
				d.ref("backend", ws.Backend, wsOwner, rng)
			}
			d.enum(wc.Attributes, "protocol", &ws.Protocol, "binary", "xml")
			if ws.Backend == "" {
				d.errorf(sb.DefRange, "set backend in the websocket block or on the listener", "%s has no backend", wsOwner)
			}
			if l.Policy == "" {
				d.errorf(sb.DefRange, "WebSocket Origin checks evaluate the listener's policy; add policy = \"...\" to the listener",
					"websocket %q needs a policy: %s has none", ws.Path, owner)
			}
			l.WebSockets = append(l.WebSockets, ws)
		}
	}
	return l
}

var webSocketSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "backend"}, {Name: "protocol"}}}

var listenerTLSSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "cert_file"}, {Name: "key_file"}, {Name: "acme"}, {Name: "min_version"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "certificate"}},
}

var certSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "cert_file"}, {Name: "key_file"}}}

func (d *decoder) decodeListenerTLS(b *hcl.Block, owner string) *ListenerTLS {
	t := &ListenerTLS{MinVersion: "1.2"}
	c := d.content(b, listenerTLSSchema)
	certRng, certOK := d.path(c.Attributes, "cert_file", &t.CertFile)
	keyRng, keyOK := d.path(c.Attributes, "key_file", &t.KeyFile)
	if certOK && keyOK {
		d.checkCertPair(t.CertFile, certRng, t.KeyFile, keyRng)
	}
	hasCert, hasKey := d.given(c.Attributes, "cert_file"), d.given(c.Attributes, "key_file")
	if hasCert != hasKey {
		if hasCert {
			d.missing(b, "key_file", "tls of "+owner)
		} else {
			d.missing(b, "cert_file", "tls of "+owner)
		}
	}
	if rng, ok := d.strList(c.Attributes, "acme", &t.ACME, false); ok {
		seen := map[string]bool{}
		for _, n := range t.ACME {
			if err := checkDomain(n); err != nil || n == "*" {
				d.errorf(rng, "acme takes the DNS names to obtain certificates for", "invalid acme name %q", n)
			} else if seen[n] {
				d.errorf(rng, "", "duplicate acme name %q", n)
			}
			seen[n] = true
		}
		if len(t.ACME) == 0 {
			d.errorf(rng, "", "empty acme list in tls of %s", owner)
		}
	}
	d.enum(c.Attributes, "min_version", &t.MinVersion, "1.0", "1.1", "1.2", "1.3")
	for _, cb := range c.Blocks {
		cc := d.content(cb, certSchema)
		var cp CertPair
		certRng, certOK := d.path(cc.Attributes, "cert_file", &cp.CertFile)
		if !certOK && !d.given(cc.Attributes, "cert_file") {
			d.missing(cb, "cert_file", "certificate of "+owner)
		}
		keyRng, keyOK := d.path(cc.Attributes, "key_file", &cp.KeyFile)
		if !keyOK && !d.given(cc.Attributes, "key_file") {
			d.missing(cb, "key_file", "certificate of "+owner)
		}
		if certOK && keyOK {
			d.checkCertPair(cp.CertFile, certRng, cp.KeyFile, keyRng)
		}
		t.Certificates = append(t.Certificates, cp)
	}
	if !hasCert && !hasKey && len(c.Blocks) == 0 && !d.given(c.Attributes, "acme") {
		d.errorf(b.DefRange, "set cert_file and key_file, acme = [names], or certificate blocks",
			"tls of %s has no certificate", owner)
	}
	return t
}

var backendSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "address"}, {Name: "builtin"}, {Name: "connect_timeout"}, {Name: "proxy_protocol"}, {Name: "framing"},
		{Name: "balance"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "tls"}, {Type: "health_check"}},
}

var healthCheckSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "interval"}, {Name: "timeout"}}}

var backendTLSSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "server_name"}, {Name: "ca_file"}, {Name: "require"}, {Name: "revocation"},
}}

func (d *decoder) decodeBackend(b *hcl.Block) *Backend {
	bc := &Backend{
		Name:           b.Labels[0],
		ConnectTimeout: defaultConnectTimeout,
		Framing:        "nul",
		Balance:        "round_robin",
		DefRange:       b.DefRange,
	}
	owner := fmt.Sprintf("backend %q", bc.Name)
	c := d.content(b, backendSchema)
	addrRng, addrOK := d.strList(c.Attributes, "address", &bc.Address, true)
	if addrOK {
		if len(bc.Address) == 0 {
			d.errorf(addrRng, "", "empty address list in %s", owner)
		}
		for i, a := range bc.Address {
			if err := checkAddress(a, addrBackend); err != nil {
				d.errorf(addrRng, err.Error(), "invalid address %q", a)
			} else if _, port, _ := net.SplitHostPort(a); serviceName(port) {
				d.services = append(d.services, serviceRef{backend: bc, index: i, rng: addrRng})
			}
		}
	}
	builtinRng, _ := d.enum(c.Attributes, "builtin", &bc.Builtin, "echo")
	hasAddr, hasBuiltin := d.given(c.Attributes, "address"), d.given(c.Attributes, "builtin")
	switch {
	case hasAddr && hasBuiltin:
		d.errorf(builtinRng, "a backend is either remote (address) or built in (builtin)", "%s has both address and builtin", owner)
	case !hasAddr && !hasBuiltin:
		d.errorf(b.DefRange, "set address = \"host:port\" (or a list), or builtin = \"echo\"", "%s needs an address or a builtin", owner)
	}
	d.duration(c.Attributes, "connect_timeout", &bc.ConnectTimeout)
	d.enum(c.Attributes, "proxy_protocol", &bc.ProxyProtocol, "", "v1", "v2")
	d.enum(c.Attributes, "framing", &bc.Framing, "nul", "line")
	d.enum(c.Attributes, "balance", &bc.Balance, "round_robin", "least_conn")
	for _, tb := range c.Blocks {
		if tb.Type == "health_check" {
			if bc.HealthCheck != nil {
				d.errorf(tb.DefRange, "", "duplicate health_check block in %s", owner)
				continue
			}
			if hasBuiltin {
				d.errorf(tb.DefRange, "", "health_check in %s: a builtin backend has no servers to check", owner)
			}
			hc := d.content(tb, healthCheckSchema)
			h := &HealthCheck{Interval: defaultHealthInterval, Timeout: defaultHealthTimeout}
			if rng, ok := d.duration(hc.Attributes, "interval", &h.Interval); ok && h.Interval == 0 {
				d.errorf(rng, "", "invalid interval \"0\": must be positive")
			}
			if rng, ok := d.duration(hc.Attributes, "timeout", &h.Timeout); ok && h.Timeout == 0 {
				d.errorf(rng, "", "invalid timeout \"0\": must be positive")
			}
			bc.HealthCheck = h
			continue
		}
		if bc.TLS != nil {
			d.errorf(tb.DefRange, "", "duplicate tls block in %s", owner)
			continue
		}
		if hasBuiltin {
			d.errorf(tb.DefRange, "", "tls in %s: a builtin backend has no connection to secure", owner)
		}
		tc := d.content(tb, backendTLSSchema)
		t := &BackendTLS{Require: "trusted", Revocation: "soft"}
		d.str(tc.Attributes, "server_name", &t.ServerName)
		if rng, ok := d.path(tc.Attributes, "ca_file", &t.CAFile); ok {
			d.checkCAFile("ca_file", t.CAFile, rng)
		}
		d.enum(tc.Attributes, "require", &t.Require, "trusted", "report")
		d.enum(tc.Attributes, "revocation", &t.Revocation, "soft", "required", "off")
		bc.TLS = t
	}
	return bc
}

var udpSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "address"}, {Name: "backend"}, {Name: "idle_timeout"}, {Name: "max_datagram"}, {Name: "max_sessions"},
}}

func (d *decoder) decodeUDP(b *hcl.Block) *UDP {
	u := &UDP{
		Name:        b.Labels[0],
		IdleTimeout: defaultUDPIdleTimeout,
		MaxDatagram: maxUDPDatagram,
		MaxSessions: defaultMaxSessions,
		DefRange:    b.DefRange,
	}
	owner := fmt.Sprintf("udp %q", u.Name)
	c := d.content(b, udpSchema)
	d.address(c.Attributes, "address", &u.Address, addrBind)
	if !d.given(c.Attributes, "address") {
		d.missing(b, "address", owner)
	}
	if rng, ok := d.str(c.Attributes, "backend", &u.Backend); ok {
		d.ref("backend", u.Backend, owner, rng)
	} else if !d.given(c.Attributes, "backend") {
		d.missing(b, "backend", owner)
	}
	d.duration(c.Attributes, "idle_timeout", &u.IdleTimeout)
	d.integer(c.Attributes, "max_datagram", &u.MaxDatagram, 1, maxUDPDatagram)
	d.integer(c.Attributes, "max_sessions", &u.MaxSessions, 0, 1<<31-1)
	return u
}

// emptyToken reports an admin token that is set but empty: most likely
// env("NAME") of a variable that is unset or empty in this environment.
// Read as "no token", it would leave the admin open without a word.
func (d *decoder) emptyToken(attr *hcl.Attribute, rng hcl.Range) {
	var names []string
	if node, ok := attrNode(attr); ok {
		hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
			call, ok := n.(*hclsyntax.FunctionCallExpr)
			if !ok || call.Name != "env" || len(call.Args) != 1 {
				return nil
			}
			if v, diags := call.Args[0].Value(d.ctx); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				names = append(names, v.AsString())
			}
			return nil
		})
	}
	const fix = "set it, or remove token for an admin without one"
	if len(names) == 0 {
		d.errorf(rng, "remove token for an admin without one", "empty admin token")
		return
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	d.errorf(rng, fix, "empty admin token: environment variable %s is unset or empty", strings.Join(quoted, ", "))
}

// attrNode is attr's expression as a syntax node, when it is one.
func attrNode(attr *hcl.Attribute) (hclsyntax.Node, bool) {
	if attr == nil {
		return nil, false
	}
	n, ok := attr.Expr.(hclsyntax.Node)
	return n, ok
}
