package config

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// Values of the config: the attribute readers of decoder, the syntax of
// addresses, sizes, policy ports and domains, and the HCL functions env() and
// file().

// addrKind says what an address is for.
type addrKind int

const (
	// addrBind: a local address to listen on. The host is empty, an IP
	// literal or "localhost"; port 0 (any free port) is allowed.
	addrBind addrKind = iota
	// addrDial: a remote address. The host may be a name; port 1-65535.
	addrDial
	// addrBackend: a backend's address: as addrDial, and the port may be a
	// service name ("http"), which the decoder resolves to its number.
	addrBackend
)

// checkAddress validates a "host:port" address. IPv6 hosts must be
// bracketed ("[::]:843"); ports must be numeric, except that a backend's
// may be a service name.
func checkAddress(s string, kind addrKind) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		if !strings.HasPrefix(s, "[") && strings.Count(s, ":") > 1 {
			return errors.New(`an IPv6 address must be in brackets, e.g. "[::1]:9000"`)
		}
		var ae *net.AddrError
		if errors.As(err, &ae) {
			return fmt.Errorf("want host:port: %s", ae.Err)
		}
		return err
	}
	if strings.HasPrefix(s, "[") && !strings.Contains(host, ":") {
		return fmt.Errorf("brackets are for IPv6 addresses only: write %q", net.JoinHostPort(host, port))
	}
	p := -1 // a service name, resolved by decoder.resolveServices
	if kind != addrBackend || !serviceName(port) {
		if p, err = portNumber(port); err != nil {
			return err
		}
	}
	switch kind {
	case addrBind:
		if host == "" || host == "localhost" {
			return nil
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("host %q: a listening address takes an IP address, \"localhost\" or nothing (all interfaces)", host)
		}
	case addrDial, addrBackend:
		if p == 0 {
			return errors.New("port 0: a remote port must be 1-65535")
		}
		if host == "" {
			return errors.New("missing host")
		}
		if strings.Contains(host, ":") || looksNumeric(host) {
			if _, err := netip.ParseAddr(host); err != nil {
				return fmt.Errorf("host %q is not a valid IP address", host)
			}
			return nil
		}
		if !validHostname(host) {
			return fmt.Errorf("host %q is not a valid host name", host)
		}
	}
	return nil
}

// portNumber parses a decimal port 0-65535.
func portNumber(s string) (int, error) {
	if s == "" {
		return 0, errors.New("missing port")
	}
	if len(s) > 5 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("port %q: must be a number 0-65535", s)
	}
	n, _ := strconv.Atoi(s)
	if n > 65535 {
		return 0, fmt.Errorf("port %d: out of range 0-65535", n)
	}
	return n, nil
}

// serviceName reports whether s is written as a service name such as
// "http" or "xmpp-client": letters, digits, '-' and '_', at least one
// letter, not starting with '-'. Whether the system knows it is up to
// net.LookupPort.
func serviceName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '-' {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			letter = true
		case c >= '0' && c <= '9' || c == '-' || c == '_':
		default:
			return false
		}
	}
	return letter
}

func looksNumeric(h string) bool {
	return strings.Trim(h, "0123456789.") == ""
}

// validHostname accepts DNS names: labels of letters, digits, '-' and
// '_', separated by dots, with an optional trailing dot.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// sizeUnits are the size suffixes, matched without regard to case:
// decimal KB/MB/GB are powers of 1000, binary KiB/MiB/GiB powers of 1024.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest first, so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"b", 1},
}

// parseSize parses a size string: a whole number of bytes, optionally
// followed (with or without a space) by B, KB, KiB, MB, MiB, GB or GiB.
func parseSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	mult := int64(1)
	lower := strings.ToLower(num)
	for _, u := range sizeUnits {
		if strings.HasSuffix(lower, u.suffix) {
			num = strings.TrimSpace(num[:len(num)-len(u.suffix)])
			mult = u.mult
			break
		}
	}
	if num == "" {
		return 0, errors.New("missing number: write a size such as 65536, \"64KiB\" or \"1MiB\"")
	}
	if strings.HasPrefix(num, "-") {
		return 0, errors.New("must not be negative")
	}
	if strings.Trim(num, "0123456789") != "" {
		return 0, errors.New("want a whole number followed by B, KB, KiB, MB, MiB, GB or GiB (KiB = 1024 bytes, KB = 1000)")
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// checkPorts validates a policy to-ports value: "*", or a comma list of
// ports and a-b ranges, each port 1-65535 and a <= b. No spaces.
func checkPorts(s string) error {
	if s == "*" {
		return nil
	}
	if s == "" {
		return errors.New(`want a port, a comma list, a-b ranges, or "*"`)
	}
	for _, item := range strings.Split(s, ",") {
		if item == "*" {
			return errors.New(`"*" must stand alone`)
		}
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := policyPort(lo)
		if err != nil {
			return err
		}
		if !isRange {
			continue
		}
		b, err := policyPort(hi)
		if err != nil {
			return err
		}
		if a > b {
			return fmt.Errorf("range %q: %d is above %d", item, a, b)
		}
	}
	return nil
}

func policyPort(s string) (int, error) {
	if s == "" {
		return 0, errors.New(`empty port: want a port, a comma list, a-b ranges, or "*"`)
	}
	n, err := portNumber(s)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("port 0: ports are 1-65535")
	}
	return n, nil
}

// checkDomain validates a policy domain: non-empty, no spaces or quotes.
// Whether a value is sensible ("*" to all ports) is the linter's business.
func checkDomain(s string) error {
	if s == "" {
		return errors.New(`want an exact host, "*", "*.suffix" or an IP address`)
	}
	if strings.ContainsAny(s, " \t\r\n\"'<>&/") {
		return errors.New("a domain has no spaces, quotes, slashes or XML characters")
	}
	return nil
}

// functions are the HCL functions available in the config: env(NAME)
// gives an environment variable ("" when unset) and file(PATH) a file's
// contents, PATH relative to dir.
func functions(dir string) map[string]function.Function {
	return map[string]function.Function{
		"env": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "name", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				return cty.StringVal(os.Getenv(args[0].AsString())), nil
			},
		}),
		"file": function.New(&function.Spec{
			Params: []function.Parameter{{Name: "path", Type: cty.String}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				p := args[0].AsString()
				if p == "" {
					return cty.NilVal, function.NewArgErrorf(0, "empty path")
				}
				b, err := readSmallFile(resolvePath(dir, p))
				if err != nil {
					return cty.NilVal, function.NewArgErrorf(0, "cannot read %q: %s", p, err)
				}
				if !utf8.Valid(b) {
					return cty.NilVal, function.NewArgErrorf(0, "%q is not UTF-8 text", p)
				}
				return cty.StringVal(string(b)), nil
			},
		}),
	}
}

// maxFileSize bounds what file() reads, and the config file itself: they
// are meant for tokens, keys, certificates and configs, not for devices or logs.
const maxFileSize = 1 << 20

// readSmallFile reads a regular file of at most maxFileSize bytes.
// Devices and pipes are refused before they are opened, so /dev/zero or a
// FIFO (as the config file, or through file()) cannot hang the loader.
func readSmallFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, osErr(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, osErr(err)
	}
	defer f.Close()
	// The path may have been replaced between Stat and Open.
	if fi, err := f.Stat(); err != nil {
		return nil, osErr(err)
	} else if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, osErr(err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxFileSize)
	}
	return b, nil
}

// osErr drops the path that os errors repeat.
func osErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Attribute readers. Each helper sets *dst only when the attribute is present, non-null and
// valid, and returns the attribute's expression range and whether it was
// present and valid. A null value counts as absent (the default applies).

func (d *decoder) content(b *hcl.Block, schema *hcl.BodySchema) *hcl.BodyContent {
	c, diags := b.Body.Content(schema)
	d.diags = append(d.diags, diags...)
	if c == nil {
		c = &hcl.BodyContent{}
	}
	if c.Attributes == nil {
		c.Attributes = hcl.Attributes{}
	}
	return c
}

// given reports whether the attribute is set to something other than null
// (valid or not). Its diagnostics were already reported by the helper that
// read it, so they are dropped here.
func (d *decoder) given(attrs hcl.Attributes, name string) bool {
	attr, ok := attrs[name]
	if !ok {
		return false
	}
	v, diags := attr.Expr.Value(d.ctx)
	return diags.HasErrors() || !v.IsNull()
}

func (d *decoder) missing(b *hcl.Block, key, owner string) {
	d.errorf(b.DefRange, "", "missing %q in %s", key, owner)
}

func (d *decoder) ref(kind, name, owner string, rng hcl.Range) {
	if name == "" {
		d.errorf(rng, "", "empty %s name in %s", kind, owner)
		return
	}
	d.refs = append(d.refs, blockRef{kind: kind, name: name, owner: owner, rng: rng})
}

// value evaluates the attribute named name, converted to ty.
func (d *decoder) value(attrs hcl.Attributes, name string, ty cty.Type, what string) (cty.Value, hcl.Range, bool) {
	attr, ok := attrs[name]
	if !ok {
		return cty.NilVal, hcl.Range{}, false
	}
	rng := attr.Expr.Range()
	v, diags := attr.Expr.Value(d.ctx)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, rng, false
	}
	if v.IsNull() {
		return cty.NilVal, rng, false
	}
	if !v.IsWhollyKnown() {
		d.errorf(rng, "", "%s: value is not known", name)
		return cty.NilVal, rng, false
	}
	if ty == cty.DynamicPseudoType {
		return v, rng, true
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		// err says again what is required ("a number is required"): the
		// summary says it once.
		d.errorf(rng, "", "invalid %s: %s required", name, what)
		return cty.NilVal, rng, false
	}
	if cv.IsNull() || !cv.IsWhollyKnown() {
		d.errorf(rng, "", "invalid %s: %s required", name, what)
		return cty.NilVal, rng, false
	}
	return cv, rng, true
}

func (d *decoder) str(attrs hcl.Attributes, name string, dst *string) (hcl.Range, bool) {
	v, rng, ok := d.value(attrs, name, cty.String, "a string")
	if !ok {
		return rng, false
	}
	*dst = v.AsString()
	return rng, true
}

func (d *decoder) path(attrs hcl.Attributes, name string, dst *string) (hcl.Range, bool) {
	var p string
	rng, ok := d.str(attrs, name, &p)
	if !ok {
		return rng, false
	}
	if p == "" {
		d.errorf(rng, "", "empty %s", name)
		return rng, false
	}
	*dst = resolvePath(d.dir, p)
	return rng, true
}

func (d *decoder) enum(attrs hcl.Attributes, name string, dst *string, allowed ...string) (hcl.Range, bool) {
	var s string
	rng, ok := d.str(attrs, name, &s)
	if !ok {
		return rng, false
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return rng, true
		}
	}
	quoted := make([]string, 0, len(allowed))
	for _, a := range allowed {
		quoted = append(quoted, fmt.Sprintf("%q", a))
	}
	d.errorf(rng, "", "invalid %s %q: must be one of %s", name, s, strings.Join(quoted, ", "))
	return rng, false
}

func (d *decoder) duration(attrs hcl.Attributes, name string, dst *time.Duration) (hcl.Range, bool) {
	v, rng, ok := d.value(attrs, name, cty.DynamicPseudoType, "")
	if !ok {
		return rng, false
	}
	if v.Type() != cty.String {
		d.errorf(rng, "write durations as strings with a unit, e.g. \"300ms\", \"30s\", \"5m\"", "invalid duration for %s: string required", name)
		return rng, false
	}
	s := v.AsString()
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.errorf(rng, err.Error(), "invalid duration %q for %s", s, name)
		return rng, false
	}
	if dur < 0 {
		d.errorf(rng, "must not be negative", "invalid duration %q for %s", s, name)
		return rng, false
	}
	*dst = dur
	return rng, true
}

func (d *decoder) size(attrs hcl.Attributes, name string, dst *int64) (hcl.Range, bool) {
	v, rng, ok := d.value(attrs, name, cty.DynamicPseudoType, "")
	if !ok {
		return rng, false
	}
	var n int64
	switch v.Type() {
	case cty.Number:
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != big.Exact || i < 0 {
			d.errorf(rng, "a size is a whole number of bytes, or a string such as \"64KiB\"", "invalid size %s for %s", numText(bf), name)
			return rng, false
		}
		n = i
	case cty.String:
		var err error
		n, err = parseSize(v.AsString())
		if err != nil {
			d.errorf(rng, err.Error(), "invalid size %q for %s", v.AsString(), name)
			return rng, false
		}
	default:
		d.errorf(rng, "a size is a number of bytes or a string such as \"64KiB\"", "invalid size for %s", name)
		return rng, false
	}
	if n == 0 {
		d.errorf(rng, "must be positive", "invalid size 0 for %s", name)
		return rng, false
	}
	*dst = n
	return rng, true
}

// numText formats a number for a diagnostic. HCL numbers are arbitrary
// precision: printing 1e99999999 in decimal takes minutes of CPU (found by
// FuzzParseConfig), so a number that large is only described.
func numText(bf *big.Float) string {
	if bf.IsInf() {
		return bf.String()
	}
	if e := bf.MantExp(nil); e > 256 || e < -256 {
		return "(out of range)"
	}
	return bf.Text('g', 10)
}

func (d *decoder) integer(attrs hcl.Attributes, name string, dst *int, lo, hi int) (hcl.Range, bool) {
	v, rng, ok := d.value(attrs, name, cty.Number, "a number")
	if !ok {
		return rng, false
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact {
		d.errorf(rng, "", "invalid %s %s: whole number required", name, numText(bf))
		return rng, false
	}
	if i < int64(lo) || i > int64(hi) {
		d.errorf(rng, "", "invalid %s %d: must be between %d and %d", name, i, lo, hi)
		return rng, false
	}
	*dst = int(i)
	return rng, true
}

func (d *decoder) boolean(attrs hcl.Attributes, name string, dst *bool) (hcl.Range, bool) {
	v, rng, ok := d.value(attrs, name, cty.Bool, "true or false")
	if !ok {
		return rng, false
	}
	*dst = v.True()
	return rng, true
}

// strList reads a list of strings; with single, a lone string is a list of one.
func (d *decoder) strList(attrs hcl.Attributes, name string, dst *[]string, single bool) (hcl.Range, bool) {
	v, rng, ok := d.value(attrs, name, cty.DynamicPseudoType, "")
	if !ok {
		return rng, false
	}
	if single && v.Type() == cty.String {
		*dst = []string{v.AsString()}
		return rng, true
	}
	what := "a list of strings"
	if single {
		what = "a string or a list of strings"
	}
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || lv.IsNull() || !lv.IsWhollyKnown() {
		d.errorf(rng, "", "invalid %s: %s required", name, what)
		return rng, false
	}
	out := []string{}
	for it := lv.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() {
			d.errorf(rng, "", "invalid %s: null element in list", name)
			return rng, false
		}
		out = append(out, ev.AsString())
	}
	*dst = out
	return rng, true
}

func (d *decoder) address(attrs hcl.Attributes, name string, dst *string, kind addrKind) (hcl.Range, bool) {
	var s string
	rng, ok := d.str(attrs, name, &s)
	if !ok {
		return rng, false
	}
	if err := checkAddress(s, kind); err != nil {
		d.errorf(rng, err.Error(), "invalid %s %q", name, s)
		return rng, false
	}
	*dst = s
	return rng, true
}

// resolvePath makes p absolute, relative to dir.
func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// posText is "FILE:LINE:COL" of r's start.
func posText(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
