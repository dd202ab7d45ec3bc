package wire

import (
	"crypto/tls"
	"net"
	"testing"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		want   Kind
	}{
		{"empty", "", KindUnknown},
		{"policy request", "<policy-file-request/>\x00", KindPolicy},
		{"policy request with trailing bytes", "<policy-file-request/>\x00x", KindPolicy},
		{"cross-domain request", "<cross-domain-request/>\x00", KindPolicy},
		{"policy prefix", "<policy-file-req", KindUnknown},
		{"shared prefix", "<", KindUnknown},
		{"cross prefix", "<cross-dom", KindUnknown},
		{"policy without NUL then data", "<policy-file-request/>\n", KindData},
		{"xml message", "<msg>hi</msg>\x00", KindData},
		{"xml diverges at second byte", "<m", KindData},
		{"uppercase policy", "<POLICY-FILE-REQUEST/>\x00", KindData},
		{"tls record", "\x16\x03\x01\x02\x00", KindTLS},
		{"tls 1.3 record version", "\x16\x03\x03", KindTLS},
		{"tls short", "\x16\x03", KindUnknown},
		{"tls one byte", "\x16", KindUnknown},
		{"not tls", "\x16\x02", KindData},
		{"bad tls minor", "\x16\x03\x09", KindData},
		{"http get", "GET /crossdomain.xml HTTP/1.1\r\n", KindHTTP},
		{"http partial", "GE", KindUnknown},
		{"http options", "OPTIONS * HTTP/1.1\r\n", KindHTTP},
		{"not http", "GEX", KindData},
		{"capital data", "HELLO", KindData},
		{"binary", "\x00\x01\x02", KindData},
		{"amf", "\x0a\x0b\x01", KindData},
		{"lowercase get", "get / HTTP/1.1", KindData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sniff([]byte(tt.prefix)); got != tt.want {
				t.Fatalf("Sniff(%q) = %v, want %v", tt.prefix, got, tt.want)
			}
		})
	}
}

// TestSniffDecidesWithinBound checks that every prefix is decided by the time
// MaxSniff bytes are in: the connection code relies on it.
func TestSniffDecidesWithinBound(t *testing.T) {
	for _, req := range []string{PolicyRequest, CrossDomainRequest} {
		if len(req) > MaxSniff {
			t.Fatalf("request %q longer than MaxSniff %d", req, MaxSniff)
		}
		for i := 1; i < len(req); i++ {
			if got := Sniff([]byte(req[:i])); got != KindUnknown {
				t.Fatalf("Sniff(%q) = %v before the request completed", req[:i], got)
			}
		}
	}
}

// TestSniffRealClientHello captures a real crypto/tls ClientHello.
func TestSniffRealClientHello(t *testing.T) {
	hello := captureClientHello(t)
	for i := 3; i <= len(hello); i += 97 {
		if got := Sniff(hello[:i]); got != KindTLS {
			t.Fatalf("Sniff(ClientHello[:%d]) = %v, want tls", i, got)
		}
	}
}

func captureClientHello(t *testing.T) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	go func() {
		tc := tls.Client(c1, &tls.Config{ServerName: "example.com"})
		_ = tc.Handshake()
	}()
	buf := make([]byte, 16<<10)
	n, err := c2.Read(buf)
	if err != nil {
		t.Fatalf("read ClientHello: %v", err)
	}
	return buf[:n]
}

func FuzzSniff(f *testing.F) {
	for _, s := range []string{"", "<policy-file-request/>\x00", "<cross-domain-request/>\x00", "<pol",
		"\x16\x03\x01", "GET / HTTP/1.1\r\n", "\x00\x01", "<msg/>\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k := Sniff(data)
		if k == KindSilent || k > KindSilent {
			t.Fatalf("Sniff returned %v", k)
		}
		if len(data) >= MaxSniff && k == KindUnknown {
			t.Fatalf("Sniff(%q) undecided at %d bytes", data, len(data))
		}
		// Deciding is monotone: more bytes never undo a decision.
		if k != KindUnknown {
			for i := len(data); i <= len(data)+2; i++ {
				more := append(append([]byte{}, data...), make([]byte, i-len(data))...)
				if Sniff(more) != k {
					t.Fatalf("Sniff changed its mind from %v on %q", k, more)
				}
			}
		}
	})
}

func BenchmarkSniff(b *testing.B) {
	inputs := [][]byte{[]byte(PolicyRequest), []byte("<msg>hello</msg>\x00"), []byte("\x16\x03\x01\x02\x00"), []byte("GET / HTTP/1.1\r\n"), {0, 1, 2, 3}}
	b.ReportAllocs()
	for b.Loop() {
		for _, in := range inputs {
			_ = Sniff(in)
		}
	}
}

func TestSniffAllocatesNothing(t *testing.T) {
	in := []byte(PolicyRequest[:10])
	if n := testing.AllocsPerRun(100, func() { _ = Sniff(in) }); n != 0 {
		t.Fatalf("Sniff allocates %v times", n)
	}
}

func TestKindString(t *testing.T) {
	for k := range Kind(NumKinds) {
		if s := k.String(); s == "" || s == "invalid" {
			t.Fatalf("Kind(%d) has no name", k)
		}
	}
	if s := Kind(NumKinds).String(); s != "invalid" {
		t.Fatalf("Kind(NumKinds) = %q", s)
	}
}
