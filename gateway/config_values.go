package gateway

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Value syntax of the config: addresses, sizes, policy ports and domains, and
// the HCL functions env() and file().

// cfgAddrKind says what an address is for.
type cfgAddrKind int

const (
	// cfgAddrBind: a local address to listen on. The host is empty, an IP
	// literal or "localhost"; port 0 (any free port) is allowed.
	cfgAddrBind cfgAddrKind = iota
	// cfgAddrDial: a remote address. The host may be a name; port 1-65535.
	cfgAddrDial
)

// cfgCheckAddress validates a "host:port" address. IPv6 hosts must be
// bracketed ("[::]:843"); ports must be numeric.
func cfgCheckAddress(s string, kind cfgAddrKind) error {
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
	p, err := cfgPortNumber(port)
	if err != nil {
		return err
	}
	switch kind {
	case cfgAddrBind:
		if host == "" || host == "localhost" {
			return nil
		}
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("host %q: a listening address takes an IP address, \"localhost\" or nothing (all interfaces)", host)
		}
	case cfgAddrDial:
		if p == 0 {
			return errors.New("port 0: a remote port must be 1-65535")
		}
		if host == "" {
			return errors.New("missing host")
		}
		if strings.Contains(host, ":") || cfgLooksNumeric(host) {
			if _, err := netip.ParseAddr(host); err != nil {
				return fmt.Errorf("host %q is not a valid IP address", host)
			}
			return nil
		}
		if !cfgValidHostname(host) {
			return fmt.Errorf("host %q is not a valid host name", host)
		}
	}
	return nil
}

// cfgPortNumber parses a decimal port 0-65535.
func cfgPortNumber(s string) (int, error) {
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

func cfgLooksNumeric(h string) bool {
	return strings.Trim(h, "0123456789.") == ""
}

// cfgValidHostname accepts DNS names: labels of letters, digits, '-' and
// '_', separated by dots, with an optional trailing dot.
func cfgValidHostname(h string) bool {
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

// cfgSizeUnits are the size suffixes, matched without regard to case:
// decimal KB/MB/GB are powers of 1000, binary KiB/MiB/GiB powers of 1024.
var cfgSizeUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest first, so "KiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"b", 1},
}

// cfgParseSize parses a size string: a whole number of bytes, optionally
// followed (with or without a space) by B, KB, KiB, MB, MiB, GB or GiB.
func cfgParseSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	mult := int64(1)
	lower := strings.ToLower(num)
	for _, u := range cfgSizeUnits {
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

// cfgCheckPorts validates a policy to-ports value: "*", or a comma list of
// ports and a-b ranges, each port 1-65535 and a <= b. No spaces.
func cfgCheckPorts(s string) error {
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
		a, err := cfgPolicyPort(lo)
		if err != nil {
			return err
		}
		if !isRange {
			continue
		}
		b, err := cfgPolicyPort(hi)
		if err != nil {
			return err
		}
		if a > b {
			return fmt.Errorf("range %q: %d is above %d", item, a, b)
		}
	}
	return nil
}

func cfgPolicyPort(s string) (int, error) {
	if s == "" {
		return 0, errors.New(`empty port: want a port, a comma list, a-b ranges, or "*"`)
	}
	n, err := cfgPortNumber(s)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, errors.New("port 0: ports are 1-65535")
	}
	return n, nil
}

// cfgCheckDomain validates a policy domain: non-empty, no spaces or quotes.
// Whether a value is sensible ("*" to all ports) is the linter's business.
func cfgCheckDomain(s string) error {
	if s == "" {
		return errors.New(`want an exact host, "*", "*.suffix" or an IP address`)
	}
	if strings.ContainsAny(s, " \t\r\n\"'<>&/") {
		return errors.New("a domain has no spaces, quotes, slashes or XML characters")
	}
	return nil
}

// cfgFunctions are the HCL functions available in the config: env(NAME)
// gives an environment variable ("" when unset) and file(PATH) a file's
// contents, PATH relative to dir.
func cfgFunctions(dir string) map[string]function.Function {
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
				b, err := cfgReadSmallFile(cfgResolvePath(dir, p))
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

// cfgMaxFunctionFile bounds what file() reads: it is meant for tokens,
// keys and certificates, not for devices or logs.
const cfgMaxFunctionFile = 1 << 20

// cfgReadSmallFile reads a regular file of at most cfgMaxFunctionFile bytes.
// Devices and pipes are refused before they are opened, so file("/dev/zero")
// or a FIFO cannot hang the loader.
func cfgReadSmallFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, cfgOSErr(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, cfgOSErr(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, cfgMaxFunctionFile+1))
	if err != nil {
		return nil, cfgOSErr(err)
	}
	if len(b) > cfgMaxFunctionFile {
		return nil, fmt.Errorf("larger than %d bytes", cfgMaxFunctionFile)
	}
	return b, nil
}

// cfgOSErr drops the path that os errors repeat.
func cfgOSErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
