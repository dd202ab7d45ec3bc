package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/flashgate/flashgate/gateway/wsload"
)

// TestWSBridgeComparison measures the bridge against websockify and a direct
// Go WebSocket echo, all bridging to the same TCP echo backend, in one run:
//
//	FLASHGATE_WSBENCH=1 go test ./gateway/ -run WSBridgeComparison -v -count=1
//
// FLASHGATE_WSBENCH_SECONDS sets each run's length (default 5).
func TestWSBridgeComparison(t *testing.T) {
	if os.Getenv("FLASHGATE_WSBENCH") == "" {
		t.Skip("set FLASHGATE_WSBENCH=1 to measure the WebSocket bridge against websockify")
	}
	d := 5 * time.Second
	if s := os.Getenv("FLASHGATE_WSBENCH_SECONDS"); s != "" {
		fmt.Sscan(s, &d)
		d *= time.Second
	}
	echo := startBackend(t, func(c *net.TCPConn) { io.Copy(c, c) })

	cfg := httpConfig(echo)
	cfg.Policies[0].Policy.Allow[0].Domain = "*"
	cfg.Listeners[0].WebSockets[0].Protocol = "binary"
	gw, _, _ := startGateway(t, cfg)
	targets := []struct{ name, url string }{{"flashgate", "ws://" + gw.Addr("mux").String() + "/chat"}}

	if wsf, err := exec.LookPath("websockify"); err == nil {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command(wsf, fmt.Sprintf("127.0.0.1:%d", port), echo)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
		for i := 0; i < 100; i++ {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		targets = append(targets, struct{ name, url string }{"websockify", fmt.Sprintf("ws://127.0.0.1:%d/", port)})
	} else {
		t.Log("websockify not installed: comparing with the direct Go echo only")
	}

	direct := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(-1)
		ctx := context.Background()
		for { // one frame per message, as the bridge sends
			typ, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if c.Write(ctx, typ, b) != nil {
				return
			}
		}
	}))
	t.Cleanup(direct.Close)
	targets = append(targets, struct{ name, url string }{"direct-go", "ws" + strings.TrimPrefix(direct.URL, "http") + "/"})

	runs := []struct {
		mode  string
		conns int
		size  int
	}{
		{wsload.PingPong, 1, 64},
		{wsload.PingPong, 16, 64},
		{wsload.Bulk, 4, 64 << 10},
	}
	results := map[string]map[int]wsload.Result{}
	for ri, r := range runs {
		for _, tg := range targets {
			res := wsload.Run(context.Background(), tg.url, r.conns, r.size, d, r.mode)
			t.Logf("%-10s %v", tg.name, res)
			if results[tg.name] == nil {
				results[tg.name] = map[int]wsload.Result{}
			}
			results[tg.name][ri] = res
		}
	}
	if w, ok := results["websockify"]; ok {
		f := results["flashgate"]
		for ri, r := range runs {
			if r.mode == wsload.PingPong {
				t.Logf("ratio flashgate/websockify %s conns=%d: msgs/s %.2fx, p99 %v vs %v",
					r.mode, r.conns, f[ri].MsgsPerSec/w[ri].MsgsPerSec, f[ri].P99, w[ri].P99)
			} else {
				t.Logf("ratio flashgate/websockify %s conns=%d: MB/s %.2fx", r.mode, r.conns, f[ri].MBPerSec/w[ri].MBPerSec)
			}
		}
	}
	dg := results["direct-go"]
	f := results["flashgate"]
	for ri, r := range runs {
		t.Logf("ratio flashgate/direct-go %s conns=%d: msgs/s %.2fx, MB/s %.2fx", r.mode, r.conns,
			f[ri].MsgsPerSec/dg[ri].MsgsPerSec, f[ri].MBPerSec/dg[ri].MBPerSec)
	}
}
