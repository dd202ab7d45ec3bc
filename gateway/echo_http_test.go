package gateway

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/flashgate/flashgate/gateway/config"
)

// TestBuiltinEchoAnswersHTTP: plain HTTP for a path that is not
// /crossdomain.xml or a WebSocket goes to the backend; when that is the
// builtin echo, the request comes back as any backend would get it (the
// default config's echo listener), and the log names no dial error.
func TestBuiltinEchoAnswersHTTP(t *testing.T) {
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Builtin: "echo"}}
	cfg.Listeners = []*config.Listener{testListener("chat", "games", "echo")}
	gw, logs, stop := startGateway(t, cfg)

	c := dial(t, gw.Addr("chat"))
	req := []byte("GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n")
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(req))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, req) {
		t.Fatalf("echo of the request: %q %v", back, err)
	}
	c.CloseWrite()
	if rest, _ := io.ReadAll(c); len(rest) != 0 {
		t.Fatalf("extra bytes %q", rest)
	}
	stop()
	out := logs.String()
	if !strings.Contains(out, `"backend":"builtin:echo"`) || strings.Contains(out, "unreachable") || strings.Contains(out, "%!") {
		t.Fatalf("summary line:\n%s", out)
	}
}

// TestBuiltinEchoXMLMaxMessage: on a protocol "xml" listener the builtin
// echo cuts a message over max_message as a TCP backend's relay does,
// and echoes messages under it whole.
func TestBuiltinEchoXMLMaxMessage(t *testing.T) {
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "echo", Builtin: "echo"}}
	l := testListener("chat", "games", "echo")
	l.Protocol = "xml"
	l.MaxMessage = 1024
	cfg.Listeners = []*config.Listener{l}
	gw, logs, stop := startGateway(t, cfg)

	c := dial(t, gw.Addr("chat"))
	msg := []byte("<m>ok</m>\x00")
	c.Write(msg)
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(c, back); err != nil || !bytes.Equal(back, msg) {
		t.Fatalf("echo %q %v", back, err)
	}
	big := bytes.Repeat([]byte("x"), 64<<10) // no NUL: one message, over the cap
	go c.Write(big)
	got, _ := io.ReadAll(c)
	if len(got) >= len(big) {
		t.Fatalf("a %d-byte message over max_message came back whole (%d bytes)", len(big), len(got))
	}
	stop()
	if !strings.Contains(logs.String(), "max_message") {
		t.Fatalf("the cut is not logged:\n%s", logs.String())
	}
}
