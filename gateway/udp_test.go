package gateway

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
)

// startUDPEcho runs a UDP echo on loopback until the test ends.
func startUDPEcho(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	return c.LocalAddr().String()
}

func udpConfigFor(echo string) *config.Config {
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "voice", Address: []string{echo}}}
	cfg.UDP = []*config.UDP{{Name: "voice", Address: "127.0.0.1:0", Backend: "voice",
		IdleTimeout: time.Minute, MaxDatagram: 1472, MaxSessions: 100}}
	return cfg
}

// udpRoundTrip sends msg from c and waits for the echo.
func udpRoundTrip(t *testing.T, c *net.UDPConn, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != msg {
		t.Fatalf("echo of %q: %q %v", msg, buf[:n], err)
	}
}

func TestUDPBlockRelays(t *testing.T) {
	echo := startUDPEcho(t)
	gw, logs, stop := startGateway(t, udpConfigFor(echo))
	addr := gw.UDPAddr("voice").(*net.UDPAddr)
	var clients []*net.UDPConn
	for i := range 3 {
		c, err := net.DialUDP("udp", nil, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
		udpRoundTrip(t, c, fmt.Sprintf("client %d", i))
	}
	// Oversize is dropped, the next datagram passes.
	big := bytes.Repeat([]byte("x"), 2000)
	clients[0].Write(big)
	udpRoundTrip(t, clients[0], "after oversize")

	waitFor(t, func() bool {
		st := gw.status()
		return len(st.UDP) == 1 && st.UDP[0].Sessions == 3
	}, "3 udp sessions in /status")
	m := gw.metrics
	waitFor(t, func() bool {
		return counterValue(m.udpDatagrams.WithLabelValues("voice", "up")) == 4 &&
			counterValue(m.udpDrops.WithLabelValues("voice", "max_datagram")) == 1
	}, "udp counters synced into metrics")
	stop()
	if !strings.Contains(logs.String(), "udp session end") {
		t.Errorf("no session summary lines at shutdown:\n%s", logs)
	}
	// The socket is closed after shutdown.
	c, _ := net.DialUDP("udp", nil, addr)
	defer c.Close()
	c.Write([]byte("x"))
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := c.Read(make([]byte, 8)); err == nil {
		t.Fatal("udp still answered after shutdown")
	}
}

func TestUDPReloadKeepsSessions(t *testing.T) {
	echo := startUDPEcho(t)
	cfg := udpConfigFor(echo)
	gw, _, _ := startGateway(t, cfg)
	addr := gw.UDPAddr("voice").(*net.UDPAddr)
	c, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	udpRoundTrip(t, c, "before")
	relay := func() any {
		gw.mu.Lock()
		defer gw.mu.Unlock()
		return gw.udpBlocks["voice"].relay
	}
	before := relay()

	// Unchanged block: same relay, the session goes on.
	if err := gw.Reload(udpConfigFor(echo)); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if relay() != before {
		t.Fatal("an unchanged udp block got a new relay: its sessions were dropped")
	}
	udpRoundTrip(t, c, "after same reload")

	// Changed block on the same address: new relay, same socket and port.
	changed := udpConfigFor(echo)
	changed.UDP[0].IdleTimeout = 30 * time.Second
	if err := gw.Reload(changed); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if relay() == before {
		t.Fatal("a changed udp block kept its old relay")
	}
	if got := gw.UDPAddr("voice").String(); got != addr.String() {
		t.Fatalf("udp address moved from %s to %s", addr, got)
	}
	udpRoundTrip(t, c, "after changed reload")

	// Removed block: closed.
	removed := udpConfigFor(echo)
	removed.UDP = nil
	if err := gw.Reload(removed); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if gw.UDPAddr("voice") != nil {
		t.Fatal("removed udp block still listed")
	}
}

// TestUDPSessionCapCounted: datagrams from clients past max_sessions are
// refused and counted as udp_drops_total{reason="max_sessions"}.
func TestUDPSessionCapCounted(t *testing.T) {
	echo := startUDPEcho(t)
	cfg := udpConfigFor(echo)
	cfg.UDP[0].MaxSessions = 1
	gw, _, _ := startGateway(t, cfg)
	addr := gw.UDPAddr("voice").(*net.UDPAddr)
	first, _ := net.DialUDP("udp", nil, addr)
	defer first.Close()
	udpRoundTrip(t, first, "in")
	second, _ := net.DialUDP("udp", nil, addr)
	defer second.Close()
	second.Write([]byte("refused"))
	waitFor(t, func() bool {
		return counterValue(gw.metrics.udpDrops.WithLabelValues("voice", "max_sessions")) == 1
	}, "refused datagram counted as max_sessions")
}
