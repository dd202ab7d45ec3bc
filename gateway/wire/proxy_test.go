package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// v2Hex is a PROXY v2 header for TCP4 203.0.113.7:51234 → 192.0.2.1:9000,
// written out byte by byte from the specification.
const v2Hex = "0d0a0d0a000d0a515549540a" + // signature
	"21" + "11" + "000c" + // v2 PROXY, TCP over IPv4, 12 bytes
	"cb007107" + "c0000201" + "c822" + "2328"

func TestParseProxy(t *testing.T) {
	v2, _ := hex.DecodeString(v2Hex)
	src4 := netip.MustParseAddrPort("203.0.113.7:51234")
	dst4 := netip.MustParseAddrPort("192.0.2.1:9000")
	tests := []struct {
		name    string
		version string
		in      string
		src     netip.AddrPort
		local   bool
		n       int
		err     error // nil, ErrProxyShort or ErrProxyHeader
	}{
		{"v1 tcp4", "v1", "PROXY TCP4 203.0.113.7 192.0.2.1 51234 9000\r\nhello", src4, false, 45, nil},
		{"v1 tcp6", "v1", "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n", netip.MustParseAddrPort("[2001:db8::1]:1"), false, 44, nil},
		{"v1 unknown", "v1", "PROXY UNKNOWN\r\n", netip.AddrPort{}, true, 15, nil},
		{"v1 unknown with addresses", "v1", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\nX", netip.AddrPort{}, true, 35, nil},
		{"v1 partial", "v1", "PROXY TCP4 203.0.113.7 192.0", netip.AddrPort{}, false, 0, ErrProxyShort},
		{"v1 partial signature", "v1", "PRO", netip.AddrPort{}, false, 0, ErrProxyShort},
		{"v1 cr at end", "v1", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", netip.AddrPort{}, false, 0, ErrProxyShort},
		{"v1 not proxy", "v1", "GET / HTTP/1.1\r\n", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 policy request", "v1", "<policy-file-request/>\x00", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 family mismatch", "v1", "PROXY TCP4 2001:db8::1 192.0.2.1 1 2\r\n", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 port too big", "v1", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 leading zero port", "v1", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 missing field", "v1", "PROXY TCP4 1.2.3.4 5.6.7.8 80\r\n", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 double space", "v1", "PROXY TCP4  1.2.3.4 5.6.7.8 80 2\r\n", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 bare LF", "v1", "PROXY TCP4 1.2.3.4 5.6.7.8 80 2\n", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 too long", "v1", "PROXY UNKNOWN " + strings.Repeat("x", 100), netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 udp", "v1", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v2 tcp4", "v2", string(v2) + "data", src4, false, 28, nil},
		{"v2 partial fixed", "v2", string(v2[:14]), netip.AddrPort{}, false, 0, ErrProxyShort},
		{"v2 partial addresses", "v2", string(v2[:20]), netip.AddrPort{}, false, 0, ErrProxyShort},
		{"v2 local", "v2", proxyV2Sig + "\x20\x00\x00\x00", netip.AddrPort{}, true, 16, nil},
		{"v2 unix family", "v2", proxyV2Sig + "\x21\x31\x00\x02ab", netip.AddrPort{}, true, 18, nil},
		{"v2 tlv after addresses", "v2", proxyV2Sig + "\x21\x11\x00\x0f" + string(v2[16:28]) + "\x04\x00\x00", src4, false, 31, nil},
		{"v2 bad version", "v2", proxyV2Sig + "\x11\x11\x00\x0c" + string(v2[16:28]), netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v2 bad command", "v2", proxyV2Sig + "\x22\x11\x00\x0c" + string(v2[16:28]), netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v2 short ipv4", "v2", proxyV2Sig + "\x21\x11\x00\x04abcd", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v2 huge", "v2", proxyV2Sig + "\x21\x11\xff\xff", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v2 wrong signature", "v2", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", netip.AddrPort{}, false, 0, ErrProxyHeader},
		{"v1 listener gets v2", "v1", string(v2), netip.AddrPort{}, false, 0, ErrProxyHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := ParseProxy([]byte(tt.in), tt.version)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.n || h.Local != tt.local || h.Src != tt.src {
				t.Fatalf("got %+v n=%d, want src %v local %v n=%d", h, n, tt.src, tt.local, tt.n)
			}
			if tt.name == "v1 tcp4" || tt.name == "v2 tcp4" {
				if h.Dst != dst4 {
					t.Fatalf("dst %v, want %v", h.Dst, dst4)
				}
			}
		})
	}
}

func TestAppendProxyRoundTrip(t *testing.T) {
	v2, _ := hex.DecodeString(v2Hex)
	src4 := netip.MustParseAddrPort("203.0.113.7:51234")
	dst4 := netip.MustParseAddrPort("192.0.2.1:9000")
	if got := AppendProxy(nil, "v2", src4, dst4); !bytes.Equal(got, v2) {
		t.Fatalf("v2 header\n%x\nwant\n%x", got, v2)
	}
	if got, want := string(AppendProxy(nil, "v1", src4, dst4)), "PROXY TCP4 203.0.113.7 192.0.2.1 51234 9000\r\n"; got != want {
		t.Fatalf("v1 header %q, want %q", got, want)
	}
	pairs := [][2]netip.AddrPort{
		{src4, dst4},
		{netip.MustParseAddrPort("[2001:db8::1]:1"), netip.MustParseAddrPort("[2001:db8::2]:65535")},
		{netip.MustParseAddrPort("[::ffff:10.1.2.3]:7"), dst4}, // mapped: sent as IPv4
		{src4, netip.MustParseAddrPort("[2001:db8::2]:80")},    // mixed: sent as IPv6
	}
	for _, v := range []string{"v1", "v2"} {
		for _, p := range pairs {
			b := AppendProxy(nil, v, p[0], p[1])
			h, n, err := ParseProxy(b, v)
			if err != nil || n != len(b) {
				t.Fatalf("%s %v: parse %q: n=%d err=%v", v, p, b, n, err)
			}
			if h.Src.Addr().Unmap() != p[0].Addr().Unmap() || h.Src.Port() != p[0].Port() ||
				h.Dst.Addr().Unmap() != p[1].Addr().Unmap() || h.Dst.Port() != p[1].Port() {
				t.Fatalf("%s %v: round trip gave %+v", v, p, h)
			}
		}
		b := AppendProxy(nil, v, netip.AddrPort{}, dst4)
		if h, _, err := ParseProxy(b, v); err != nil || !h.Local {
			t.Fatalf("%s without address: %q → %+v, %v", v, b, h, err)
		}
	}
}

// FuzzProxyHeader checks that the parser never panics, never claims more
// bytes than it was given, and that what it accepts re-encodes to a header
// that parses to the same addresses. The seed corpus is in
// testdata/fuzz/FuzzProxyHeader.
func FuzzProxyHeader(f *testing.F) {
	v2, _ := hex.DecodeString(v2Hex)
	f.Add([]byte("PROXY TCP4 203.0.113.7 192.0.2.1 51234 9000\r\nhello"), false)
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n"), false)
	f.Add([]byte("PROXY UNKNOWN\r\n"), false)
	f.Add(v2, true)
	f.Add(ProxyV2Sig(), true)
	f.Fuzz(func(t *testing.T, b []byte, v2 bool) {
		version := "v1"
		if v2 {
			version = "v2"
		}
		h, n, err := ParseProxy(b, version)
		need, nerr := ProxyNeed(b, version)
		switch {
		case err == nil && (need != 0 || nerr != nil),
			errors.Is(err, ErrProxyShort) && (need <= 0 || nerr != nil),
			// A v2 header's length is known before its contents are
			// checked: ProxyNeed may call a bad header complete, but never
			// ask for more bytes of one already refused.
			errors.Is(err, ErrProxyHeader) && nerr == nil && need > 0,
			nerr != nil && !errors.Is(nerr, ErrProxyHeader):
			t.Fatalf("ParseProxy: %v; ProxyNeed: %d, %v", err, need, nerr)
		}
		if need > 0 && n == 0 && version == "v2" {
			// Reading exactly need more bytes never takes one past the
			// header: a header with trailing bytes wants them no later.
			if _, n2, err := ParseProxy(append(b[:len(b):len(b)], make([]byte, need)...), version); err == nil && n2 < len(b)+need {
				t.Fatalf("need %d after %d bytes, but the header is %d bytes", need, len(b), n2)
			}
		}
		if err != nil {
			if n != 0 {
				t.Fatalf("error %v with n=%d", err, n)
			}
			if !errors.Is(err, ErrProxyShort) && !errors.Is(err, ErrProxyHeader) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n <= 0 || n > len(b) {
			t.Fatalf("n=%d for %d bytes", n, len(b))
		}
		if version == "v1" && n > ProxyV1Max {
			t.Fatalf("v1 header of %d bytes", n)
		}
		// Only the header's own bytes decide: more after it changes nothing.
		h2, n2, err2 := ParseProxy(append(b[:n:n], "trailing"...), version)
		if err2 != nil || n2 != n || h2 != h {
			t.Fatalf("trailing bytes changed the parse: %+v %d %v", h2, n2, err2)
		}
		if h.Local {
			return
		}
		re := AppendProxy(nil, version, h.Src, h.Dst)
		h3, _, err := ParseProxy(re, version)
		if err != nil || h3 != h {
			t.Fatalf("re-encoded %q parses to %+v, %v; want %+v", re, h3, err, h)
		}
	})
}

// TestProxyNeed walks headers byte by byte as a reader would: ProxyNeed never
// asks for a byte past the header and says 0 exactly when it is complete.
func TestProxyNeed(t *testing.T) {
	v2, _ := hex.DecodeString(v2Hex)
	tlv := proxyV2Sig + "\x21\x11\x00\x0f" + string(v2[16:28]) + "\x04\x00\x00"
	for _, tt := range []struct{ version, hdr string }{
		{"v1", "PROXY TCP4 203.0.113.7 192.0.2.1 51234 9000\r\n"},
		{"v1", "PROXY UNKNOWN\r\n"},
		{"v2", string(v2)},
		{"v2", tlv},
		{"v2", proxyV2Sig + "\x20\x00\x00\x00"},
	} {
		in := tt.hdr + "trailing data"
		for have := 0; have <= len(tt.hdr); have++ {
			need, err := ProxyNeed([]byte(in[:have]), tt.version)
			if err != nil {
				t.Fatalf("%s %q after %d: %v", tt.version, tt.hdr, have, err)
			}
			if (need == 0) != (have == len(tt.hdr)) || have+need > len(tt.hdr) {
				t.Fatalf("%s %q after %d bytes: need %d", tt.version, tt.hdr, have, need)
			}
			if tt.version == "v1" && need > 1 {
				t.Fatalf("v1 need %d: the length is unknown before CRLF", need)
			}
		}
		// The v2 reader's path: the fixed part, then exactly the rest.
		if tt.version == "v2" {
			if need, _ := ProxyNeed(nil, "v2"); need != 16 {
				t.Fatalf("v2 need %d at start", need)
			}
			if need, _ := ProxyNeed([]byte(tt.hdr[:16]), "v2"); 16+need != len(tt.hdr) {
				t.Fatalf("v2 need %d after the fixed part of %d bytes", need, len(tt.hdr))
			}
		}
		// A whole header followed by more bytes: complete, and ParseProxy
		// gives its length.
		if need, err := ProxyNeed([]byte(in), tt.version); need != 0 || err != nil {
			t.Fatalf("%q: need %d, %v", in, need, err)
		}
		if _, n, err := ParseProxy([]byte(in), tt.version); n != len(tt.hdr) || err != nil {
			t.Fatalf("%q: n=%d, %v", in, n, err)
		}
	}
	for _, tt := range []struct{ version, in string }{
		{"v1", "GET "},
		{"v1", "PROXY TCP4 1.2.3.4\n"},
		{"v1", "PROXY UNKNOWN " + strings.Repeat("x", 100)},
		{"v1", proxyV2Sig},
		{"v2", "PROXY "},
		{"v2", "\r\n\r\n\x00\r\nQUIX"},
		{"v2", proxyV2Sig + "\x11"},
		{"v2", proxyV2Sig + "\x21\x11\xff\xff"},
	} {
		if need, err := ProxyNeed([]byte(tt.in), tt.version); !errors.Is(err, ErrProxyHeader) {
			t.Errorf("%s %q: need %d, err %v; want ErrProxyHeader", tt.version, tt.in, need, err)
		}
	}
}

func TestProxyAllocatesNothing(t *testing.T) {
	v2, _ := hex.DecodeString(v2Hex)
	src := netip.MustParseAddrPort("203.0.113.7:51234")
	dst := netip.MustParseAddrPort("[2001:db8::2]:80")
	var buf [ProxyV1Max]byte
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = ProxyNeed(v2[:20], "v2")
		_, _, _ = ParseProxy(v2, "v2")
		_ = AppendProxy(buf[:0], "v1", src, dst)
		_ = AppendProxy(buf[:0], "v2", src, dst)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
	if got := AppendProxy(buf[:0], "v1", src, dst); !bytes.HasPrefix(got, []byte("PROXY TCP6 ::ffff:203.0.113.7 2001:db8::2 51234 80\r\n")) {
		t.Fatalf("v1 mixed families: %q", got)
	}
}
