package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/policyfile"
	"github.com/flashgate/flashgate/tlsterm"
	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

// tlsListenerConfig returns a multiplexed listener on the builtin echo with
// TLS termination from a certificate for chat.example.com, and the pool a
// client must trust.
func tlsListenerConfig(t *testing.T) (*config.Config, *tls.Config) {
	t.Helper()
	ca := tlstest.NewCert(t, "Test Root", true, nil)
	leaf := tlstest.NewCert(t, "chat.example.com", false, ca, tlstest.DNSNames("chat.example.com"))
	certFile, keyFile := tlstest.WritePair(t, t.TempDir(), "chat", leaf, ca)
	cfg := testConfig()
	// A policy of its own: testPolicy is shared by every test.
	cfg.Policies[0].Policy = &policyfile.Policy{SiteControl: policyfile.MasterOnly,
		Allow: []policyfile.Allow{{Domain: "*", ToPorts: "1024-65535"}}}
	cfg.Backends = []*config.Backend{{Name: "echo", Builtin: "echo"}}
	l := testListener("chat", "games", "echo")
	l.TLS = &config.ListenerTLS{CertFile: certFile, KeyFile: keyFile, MinVersion: "1.2"}
	l.WebSockets = []*config.WebSocket{{Path: "/chat", Backend: "echo", Protocol: "binary"}}
	cfg.Listeners = []*config.Listener{l}
	return cfg, &tls.Config{RootCAs: tlstest.Pool(ca), ServerName: "chat.example.com"}
}

func TestTLSTerminationSniffsInnerStream(t *testing.T) {
	cfg, clientTLS := tlsListenerConfig(t)
	gw, logs, stop := startGateway(t, cfg)
	addr := gw.Addr("chat").String()

	dialTLS := func(t *testing.T) *tls.Conn {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, clientTLS)
		if err != nil {
			t.Fatalf("TLS handshake with the gateway: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
	t.Run("policy inside TLS", func(t *testing.T) {
		c := dialTLS(t)
		c.Write(policyRequest)
		got, _ := io.ReadAll(c)
		if !bytes.Equal(got, cfg.Policies[0].Policy.SocketAnswer()) {
			t.Fatalf("policy over TLS: %q", got)
		}
	})
	t.Run("xml inside TLS", func(t *testing.T) {
		c := dialTLS(t)
		msg := []byte("<login user=\"a\"/>\x00")
		c.Write(msg)
		back := make([]byte, len(msg))
		if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
			t.Fatalf("echo over TLS: %q %v", back, err)
		}
	})
	t.Run("wss", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}}
		ws, _, err := websocket.Dial(ctx, "wss://"+addr+"/chat", &websocket.DialOptions{
			HTTPClient: hc, HTTPHeader: http.Header{"Origin": {"https://games.example.com"}}})
		if err != nil {
			t.Fatalf("wss dial: %v", err)
		}
		defer ws.CloseNow()
		if err := ws.Write(ctx, websocket.MessageBinary, []byte("<m/>\x00")); err != nil {
			t.Fatal(err)
		}
		typ, data, err := ws.Read(ctx)
		if err != nil || typ != websocket.MessageBinary || string(data) != "<m/>\x00" {
			t.Fatalf("wss echo: %v %q %v", typ, data, err)
		}
	})
	t.Run("plain client on the same port", func(t *testing.T) {
		c := dial(t, gw.Addr("chat"))
		c.Write([]byte("plain\x00"))
		back := make([]byte, 6)
		if _, err := io.ReadFull(c, back); err != nil || string(back) != "plain\x00" {
			t.Fatalf("plain echo: %q %v", back, err)
		}
	})
	t.Run("TLS 1.0 refused by default", func(t *testing.T) {
		old := clientTLS.Clone()
		old.MaxVersion = tls.VersionTLS10
		old.MinVersion = tls.VersionTLS10
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, old)
		if err == nil {
			c.Close()
			t.Fatal("a TLS 1.0 client completed a handshake with a min_version 1.2 listener")
		}
	})
	stop()
	if !strings.Contains(logs.String(), `"tls":true`) {
		t.Errorf("summary lines do not mark terminated TLS:\n%s", logs)
	}
	if !regexp.MustCompile(`"tls_version":"TLS 1\.[23]","tls_cipher":"TLS_[A-Z0-9_]+"`).MatchString(logs.String()) {
		t.Errorf("summary lines do not name the TLS version and cipher suite:\n%s", logs)
	}
	if !strings.Contains(logs.String(), `"reason":"tls handshake failed"`) {
		t.Errorf("refused handshake not logged:\n%s", logs)
	}
}

func TestBackendTLSOrigination(t *testing.T) {
	ca := tlstest.NewCert(t, "Backend Root", true, nil)
	good := tlstest.NewCert(t, "game.internal", false, ca, tlstest.DNSNames("game.internal"))
	expired := tlstest.NewCert(t, "game.internal", false, ca, tlstest.DNSNames("game.internal"),
		tlstest.Validity(time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)))
	goodAddr := tlstest.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{tlstest.TLSCert(good, ca)}})
	expiredAddr := tlstest.ServeTLS(t, &tls.Config{Certificates: []tls.Certificate{tlstest.TLSCert(expired, ca)}})
	caFile := tlstest.WriteCA(t, t.TempDir(), ca)

	tests := []struct {
		name, addr, require string
		wantHello           bool
		wantStatus          string
	}{
		{"trusted", goodAddr, "trusted", true, "trusted"},
		{"expired refused", expiredAddr, "trusted", false, "expired"},
		{"expired reported", expiredAddr, "report", true, "expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Backends = []*config.Backend{{Name: "game", Address: []string{tt.addr}, ConnectTimeout: 2 * time.Second,
				TLS: &config.BackendTLS{ServerName: "game.internal", CAFile: caFile, Require: tt.require, Revocation: "off"}}}
			cfg.Listeners = []*config.Listener{testListener("game", "", "game")}
			gw, logs, stop := startGateway(t, cfg)
			c := dial(t, gw.Addr("game"))
			c.Write([]byte("hi"))
			got, _ := io.ReadAll(c)
			if tt.wantHello != (string(got) == "hello\n") {
				t.Fatalf("client got %q (want hello: %v)", got, tt.wantHello)
			}
			stop()
			if !strings.Contains(logs.String(), `"backend_tls":"`+tt.wantStatus+`"`) {
				t.Errorf("summary lacks backend_tls %s:\n%s", tt.wantStatus, logs)
			}
			st := gw.status()
			found := false
			for _, b := range st.Backends {
				for _, s := range b.Servers {
					if s.LastTLSStatus == tt.wantStatus {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("/status does not show the last status %s: %+v", tt.wantStatus, st.Backends)
			}
		})
	}
}

func TestReloadRereadsCertificates(t *testing.T) {
	cfg, clientTLS := tlsListenerConfig(t)
	gw, _, _ := startGateway(t, cfg)
	addr := gw.Addr("chat").String()
	serial := func() string {
		c, err := tls.Dial("tcp", addr, clientTLS)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := serial()
	// A new certificate at the same paths, then a reload with the same config.
	ca := tlstest.NewCert(t, "Second Root", true, nil)
	leaf := tlstest.NewCert(t, "chat.example.com", false, ca, tlstest.DNSNames("chat.example.com"))
	l := cfg.Listeners[0]
	dir := l.TLS.CertFile[:strings.LastIndex(l.TLS.CertFile, "/")]
	tlstest.WritePair(t, dir, "chat", leaf, ca)
	clientTLS.RootCAs = tlstest.Pool(ca)
	if err := gw.Reload(cfg); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if after := serial(); after == before {
		t.Fatalf("certificate not re-read on reload: serial %s both times", after)
	}
}

// TestServedCertificatesKeepACMEPlaceholder: an ACME name without an
// obtained certificate stays listed by name; file certificates pass as read.
func TestServedCertificatesKeepACMEPlaceholder(t *testing.T) {
	cfg, _ := tlsListenerConfig(t)
	l := cfg.Listeners[0]
	term, err := tlsterm.NewTerminator(termConfig(cfg, l.TLS), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	gen := &generation{
		tls: map[string]*listenerTLS{"chat": {term: term}},
		certs: []certState{
			{Listener: "chat", File: l.TLS.CertFile, Names: []string{"chat.example.com"}},
			{Listener: "chat", ACME: true, Names: []string{"acme.example.com"}, DaysLeft: -1},
		},
	}
	got := gen.served()
	if len(got) != 2 || got[0].File != l.TLS.CertFile || !got[1].ACME || got[1].Names[0] != "acme.example.com" {
		t.Fatalf("served certificates: %+v", got)
	}
}
