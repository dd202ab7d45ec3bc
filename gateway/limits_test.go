package gateway

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
)

// TestLimits: max_connections and max_connections_per_ip close the
// connection at once (a reset), count it by reason and log at a bounded
// rate.
func TestLimits(t *testing.T) {
	backend := startBackend(t, echoHandler)
	for _, tc := range []struct {
		name           string
		total, perIP   int
		reason         string
		addrs          []string // source addresses of the connections that fill the limit
		rejectFrom     string
		acceptedBeside string // another source still accepted, or ""
	}{
		{"total", 3, 0, rejectMaxConns, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, "127.0.0.4", ""},
		{"per-ip", 0, 2, rejectMaxPerIP, []string{"127.0.0.1", "127.0.0.1"}, "127.0.0.1", "127.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{backend}, ConnectTimeout: time.Second}}
			l := testListener("chat", "", "echo")
			l.MaxConnections, l.MaxConnectionsPerIP = tc.total, tc.perIP
			cfg.Listeners = []*config.Listener{l}
			gw, logs, _ := startGateway(t, cfg)
			from := func(src string) (*net.TCPConn, error) {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
				c, err := d.Dial("tcp", gw.Addr("chat").String())
				if err != nil {
					return nil, err // a reset can beat the dial's return
				}
				t.Cleanup(func() { c.Close() })
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				return c.(*net.TCPConn), nil
			}
			echoes := func(c *net.TCPConn, err error) error {
				if err != nil {
					return err
				}
				if _, err := c.Write([]byte("ping")); err != nil {
					return err
				}
				_, err = io.ReadFull(c, make([]byte, 4))
				return err
			}
			for _, a := range tc.addrs {
				if err := echoes(from(a)); err != nil {
					t.Fatalf("within the limit, from %s: %v", a, err)
				}
			}
			const extra = 20
			for range extra {
				if err := echoes(from(tc.rejectFrom)); err == nil {
					t.Fatalf("over the limit, from %s: served", tc.rejectFrom)
				}
			}
			if tc.acceptedBeside != "" {
				if err := echoes(from(tc.acceptedBeside)); err != nil {
					t.Fatalf("another address, %s: %v", tc.acceptedBeside, err)
				}
			}
			waitFor(t, func() bool { return gw.status().Listeners[0].Rejections[tc.reason] == extra },
				"every rejection counted")
			if n := strings.Count(logs.String(), "connection rejected"); n < 1 || n > 3 {
				t.Fatalf("%d rejection lines for %d rejections in well under a second; want a bounded few", n, extra)
			}
		})
	}
}
