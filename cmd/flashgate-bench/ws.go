package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"

	"github.com/flashgate/flashgate/gateway/wsload"
)

// runWS ping-pongs binary WebSocket messages through an echo (gateway/wsload),
// or with -size >= 64 KiB streams bulk messages and counts MB/s of echoed
// bytes. Handshakes carry Origin http://127.0.0.1.
func runWS(ctx context.Context, o options) (Result, error) {
	url := "ws://" + o.target + o.path
	size := defaults(o.size, 64)
	conns := defaults(o.conns, 8)
	mode := wsload.PingPong
	if size >= 64<<10 {
		mode = wsload.Bulk
	}
	res := wsload.RunWithHeader(ctx, url, http.Header{"Origin": {"http://127.0.0.1"}}, conns, size, o.duration, mode)
	if res.Err != nil && res.Messages == 0 {
		return Result{}, res.Err
	}
	r := Result{Conns: conns, Seconds: res.Duration.Seconds(), Ops: res.Messages, OpsPerSec: res.MsgsPerSec,
		MBPerSec: res.MBPerSec, P50ms: ms(res.P50), P99ms: ms(res.P99), Note: mode}
	if res.Err != nil {
		r.Errors = 1
		r.Note += ": first error: " + res.Err.Error()
	}
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// serveWSEcho is a direct Go WebSocket echo: the limit a bridge is compared
// with.
func serveWSEcho(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(64 << 20)
		for {
			typ, data, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, data); err != nil {
				return
			}
		}
	})}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		return fmt.Errorf("ws echo on %s: %w", addr, err)
	}
	return nil
}
