package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/wire"
)

// proxyBackend accepts connections, reads a PROXY header of version and
// reports it with everything that follows until EOF.
type proxyReport struct {
	hdr  wire.ProxyHeader
	data []byte
	err  error
}

func startProxyBackend(t *testing.T, version string) (string, chan proxyReport) {
	t.Helper()
	ch := make(chan proxyReport, 16)
	addr := startBackend(t, func(c *net.TCPConn) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		h, err := readProxyHeader(c, version)
		if err != nil {
			ch <- proxyReport{err: err}
			return
		}
		var data []byte
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			data = append(data, buf[:n]...)
			_, _ = c.Write(buf[:n]) // echo, so clients can see their bytes went through
			if err != nil {
				break
			}
		}
		ch <- proxyReport{hdr: h, data: data}
	})
	return addr, ch
}

func recvReport(t *testing.T, ch chan proxyReport) proxyReport {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("backend: %v", r.err)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("backend got nothing")
	}
	return proxyReport{}
}

// TestProxyProtocolBothDirections sends real header bytes to a PROXY
// listener, with the client's first data in the same write, and checks the
// backend receives its own PROXY header carrying the real client address,
// then every client byte in order.
func TestProxyProtocolBothDirections(t *testing.T) {
	for _, tc := range []struct{ in, out string }{{"v1", "v2"}, {"v2", "v1"}, {"v2", "v2"}, {"v1", "v1"}} {
		t.Run(tc.in+"-to-"+tc.out, func(t *testing.T) {
			baddr, reports := startProxyBackend(t, tc.out)
			cfg := testConfig()
			cfg.Backends = []*config.Backend{{Name: "b", Address: []string{baddr}, ConnectTimeout: time.Second, ProxyProtocol: tc.out}}
			l := testListener("pp", "", "b")
			l.ProxyProtocol = tc.in
			cfg.Listeners = []*config.Listener{l}
			gw, logs, _ := startGateway(t, cfg)
			real := netip.MustParseAddrPort("198.51.100.23:40123")
			dst := netip.MustParseAddrPort("192.0.2.80:9000")
			c := dial(t, gw.Addr("pp"))
			payload := "<policy-file-request/>\x00 and then data"
			msg := append(wire.AppendProxy(nil, tc.in, real, dst), payload...)
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(payload))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != payload {
				t.Fatalf("echo %q, %v", got, err)
			}
			c.CloseWrite()
			r := recvReport(t, reports)
			if r.hdr.Src != real || r.hdr.Dst != dst {
				t.Fatalf("backend header %+v, want %v → %v", r.hdr, real, dst)
			}
			if string(r.data) != payload {
				t.Fatalf("backend data %q, want %q", r.data, payload)
			}
			c.Close()
			waitFor(t, func() bool { return strings.Contains(logs.String(), `"client":"198.51.100.23:40123"`) },
				"summary line with the real client address")
		})
	}
}

// TestProxyProtocolLocalKeepsPeer: LOCAL (v2) and UNKNOWN (v1) keep the TCP
// peer's address, which is then what the backend is told.
func TestProxyProtocolLocalKeepsPeer(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			baddr, reports := startProxyBackend(t, "v1")
			cfg := testConfig()
			cfg.Backends = []*config.Backend{{Name: "b", Address: []string{baddr}, ConnectTimeout: time.Second, ProxyProtocol: "v1"}}
			l := testListener("pp", "", "b")
			l.ProxyProtocol = v
			cfg.Listeners = []*config.Listener{l}
			gw, _, _ := startGateway(t, cfg)
			c := dial(t, gw.Addr("pp"))
			c.Write(append(wire.AppendProxy(nil, v, netip.AddrPort{}, netip.AddrPort{}), "x"...))
			c.CloseWrite()
			io.ReadAll(c)
			r := recvReport(t, reports)
			if want := netip.MustParseAddrPort(c.LocalAddr().String()); r.hdr.Src != want {
				t.Fatalf("backend told %v, want the peer %v", r.hdr.Src, want)
			}
		})
	}
}

func TestProxyProtocolBadHeaderRejected(t *testing.T) {
	baddr := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: []string{baddr}, ConnectTimeout: time.Second}}
	l := testListener("pp", "", "b")
	l.ProxyProtocol = "v2"
	cfg.Listeners = []*config.Listener{l}
	gw, logs, _ := startGateway(t, cfg)
	for _, send := range []string{"hello, no header here", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"} {
		c := dial(t, gw.Addr("pp"))
		c.Write([]byte(send))
		if b, _ := io.ReadAll(c); len(b) != 0 {
			t.Fatalf("got %q from a connection with a bad header", b)
		}
	}
	waitFor(t, func() bool {
		return gw.status().Listeners[0].Rejections[rejectProxyHeader] == 2
	}, "2 proxy_header rejections")
	if !strings.Contains(logs.String(), "connection rejected") {
		t.Errorf("no rejection logged:\n%s", logs)
	}
}

// TestProxyProtocolPerIPLimitUsesRealAddress: behind a balancer every
// connection comes from one peer; the per-IP limit applies to the address
// in the header.
func TestProxyProtocolPerIPLimitUsesRealAddress(t *testing.T) {
	baddr := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: []string{baddr}, ConnectTimeout: time.Second}}
	l := testListener("pp", "", "b")
	l.ProxyProtocol = "v1"
	l.MaxConnectionsPerIP = 1
	cfg.Listeners = []*config.Listener{l}
	gw, _, _ := startGateway(t, cfg)
	open := func(src string) *net.TCPConn {
		c := dial(t, gw.Addr("pp"))
		hdr := wire.AppendProxy(nil, "v1", netip.MustParseAddrPort(src), netip.MustParseAddrPort("192.0.2.1:9000"))
		c.Write(append(hdr, "ping"...))
		return c
	}
	echoes := func(c *net.TCPConn) bool {
		buf := make([]byte, 4)
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := io.ReadFull(c, buf)
		return err == nil && string(buf) == "ping"
	}
	a1, b1 := open("198.51.100.1:1000"), open("198.51.100.2:1000")
	if !echoes(a1) || !echoes(b1) {
		t.Fatal("two different real clients: both should be served")
	}
	a2 := open("198.51.100.1:1001")
	if echoes(a2) {
		t.Fatal("second connection from 198.51.100.1 was served despite max_connections_per_ip = 1")
	}
	if n := gw.status().Listeners[0].Rejections[rejectMaxPerIP]; n != 1 {
		t.Fatalf("max_connections_per_ip rejections = %d, want 1", n)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestHAProxySendProxyV2 puts Debian's haproxy in front of flashgate and
// behind it: haproxy (send-proxy-v2) → flashgate listener (proxy v2) →
// flashgate backend (proxy v2) → haproxy (accept-proxy, send-proxy v1) →
// test backend. The test backend must see the test client's own address
// and port, carried through both hops.
func TestHAProxySendProxyV2(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal("haproxy not installed (.ci/install-peers installs it)")
			}
			t.Skip("SKIPPED LOUDLY: haproxy not installed; apt-get install haproxy to run this interop test")
		}
	}
	baddr, reports := startProxyBackend(t, "v1")
	// Reserve ports for haproxy's two frontends.
	front, back := freePort(t), freePort(t)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "hap", Address: []string{back}, ConnectTimeout: time.Second, ProxyProtocol: "v2"}}
	l := testListener("pp", "", "hap")
	l.ProxyProtocol = "v2"
	cfg.Listeners = []*config.Listener{l}
	gw, _, _ := startGateway(t, cfg)

	dir := t.TempDir()
	conf := fmt.Sprintf(`global
  log stderr format raw local0
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend in
  bind %s
  default_backend to_flashgate
backend to_flashgate
  server fg %s send-proxy-v2
frontend from_flashgate
  bind %s accept-proxy
  default_backend to_test
backend to_test
  server tb %s send-proxy
`, front, gw.Addr("pp"), back, baddr)
	cf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-db", "-f", cf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var c net.Conn
	waitFor(t, func() bool {
		c, err = net.Dial("tcp", front)
		return err == nil
	}, "haproxy to listen")
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("through haproxy")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("through haproxy"))
	if _, err := io.ReadFull(bufio.NewReader(c), got); err != nil {
		t.Fatalf("echo through haproxy: %v\nhaproxy output:\n%s", err, out.String())
	}
	c.(*net.TCPConn).CloseWrite()
	r := recvReport(t, reports)
	if want := netip.MustParseAddrPort(c.LocalAddr().String()); r.hdr.Src != want {
		t.Fatalf("test backend sees %v, want the client %v", r.hdr.Src, want)
	}
	if string(r.data) != "through haproxy" {
		t.Fatalf("data %q", r.data)
	}
}

// freePort returns a loopback address that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
