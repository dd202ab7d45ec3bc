package gateway

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/stream"
)

// xmlConfig is a listener with protocol xml in front of backend addr.
func xmlConfig(addr, framing string, max int64) *config.Config {
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "xml", Address: []string{addr}, ConnectTimeout: time.Second, Framing: framing}}
	l := testListener("xml", "games", "xml")
	l.Protocol = "xml"
	l.MaxMessage = max
	cfg.Listeners = []*config.Listener{l}
	return cfg
}

func TestXMLRelayEndToEnd(t *testing.T) {
	backend := startBackend(t, echoHandler)
	gw, logs, stop := startGateway(t, xmlConfig(backend, "nul", 1024))
	c := dial(t, gw.Addr("xml"))
	msgs := "<hello/>\x00<a b=\"1\">x</a>\x00"
	// Split the first message across writes: framing must not care.
	c.Write([]byte(msgs[:3]))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte(msgs[3:]))
	got := make([]byte, len(msgs))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msgs {
		t.Fatalf("echo: %q, %v", got, err)
	}
	c.CloseWrite()
	if rest, _ := io.ReadAll(c); len(rest) != 0 {
		t.Errorf("extra bytes %q", rest)
	}
	stop()
	log := logs.String()
	if !strings.Contains(log, `"protocol":"xml","msgs_up":2,"msgs_down":2`) {
		t.Errorf("summary lacks message counts:\n%s", log)
	}
}

func TestXMLRelayMaxMessageClosesOnlyThatConnection(t *testing.T) {
	got := make(chan string, 4)
	backend := startBackend(t, func(c *net.TCPConn) {
		b, _ := io.ReadAll(c)
		got <- string(b)
		c.Close()
	})
	gw, logs, stop := startGateway(t, xmlConfig(backend, "nul", 16))
	good := dial(t, gw.Addr("xml"))
	good.Write([]byte("<still/>\x00"))
	bad := dial(t, gw.Addr("xml"))
	bad.Write([]byte("<ok/>\x00<" + strings.Repeat("x", 100) + "/>\x00"))
	bad.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadAll(bad); stream.IsTimeout(err) {
		t.Fatalf("oversized connection not closed: %v", err)
	}
	select {
	case b := <-got:
		if b != "<ok/>\x00" {
			t.Errorf("backend of the oversized connection got %q, want only the first message", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("backend connection not closed")
	}
	good.CloseWrite()
	select {
	case b := <-got:
		if b != "<still/>\x00" {
			t.Errorf("other connection's backend got %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("other connection affected")
	}
	stop()
	if !strings.Contains(logs.String(), "client message over max_message") {
		t.Errorf("no logged reason:\n%s", logs.String())
	}
}

// lineBackend is a readLine() server like Adobe's SimpleServer: it answers
// each line with "echo: LINE\r\n".
func lineBackend(c *net.TCPConn) {
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if _, err := c.Write([]byte("echo: " + sc.Text() + "\r\n")); err != nil {
			return
		}
	}
	c.CloseWrite()
}

func TestXMLRelayLineFraming(t *testing.T) {
	backend := startBackend(t, lineBackend)
	gw, _, _ := startGateway(t, xmlConfig(backend, "line", 1024))
	c := dial(t, gw.Addr("xml"))
	c.Write([]byte("<a/>\x00<b"))
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("/>\x00"))
	want := "echo: <a/>\x00echo: <b/>\x00"
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("got %q, %v; want %q", got, err, want)
	}
}

// TestXMLRelayIdleHoldsNoBuffer: an idle xml connection parks in the poller.
func TestXMLRelayIdleTimeout(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := xmlConfig(backend, "nul", 1024)
	cfg.Listeners[0].IdleTimeout = 300 * time.Millisecond
	gw, logs, stop := startGateway(t, cfg)
	c := dial(t, gw.Addr("xml"))
	c.Write([]byte("<a/>\x00"))
	start := time.Now()
	got, _ := io.ReadAll(c)
	if string(got) != "<a/>\x00" || time.Since(start) < 250*time.Millisecond || time.Since(start) > 3*time.Second {
		t.Errorf("got %q after %v", got, time.Since(start))
	}
	stop()
	if !strings.Contains(logs.String(), `"reason":"idle timeout"`) {
		t.Errorf("no idle reason:\n%s", logs.String())
	}
}
