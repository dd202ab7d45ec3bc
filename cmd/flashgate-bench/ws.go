package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// runWS ping-pongs binary WebSocket messages through an echo, or with
// -size >= 64 KiB streams bulk messages and counts MB/s of echoed bytes.
func runWS(ctx context.Context, o options) (Result, error) {
	url := "ws://" + o.target + o.path
	size := defaults(o.size, 64)
	r, samples := runWorkers(ctx, defaults(o.conns, 8), o.duration, func(ctx context.Context, _ int, deadline time.Time, c *counters) []time.Duration {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{
			HTTPHeader: http.Header{"Origin": []string{"http://127.0.0.1"}},
		})
		cancel()
		if err != nil {
			c.errs.Add(1)
			return nil
		}
		conn.SetReadLimit(int64(size) + 1024)
		defer conn.CloseNow()
		msg := make([]byte, size)
		msg[len(msg)-1] = 0
		var s []time.Duration
		for time.Now().Before(deadline) && ctx.Err() == nil {
			t0 := time.Now()
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := conn.Write(wctx, websocket.MessageBinary, msg)
			got := 0
			for err == nil && got < size {
				var typ websocket.MessageType
				var data []byte
				typ, data, err = conn.Read(wctx)
				if err == nil && typ != websocket.MessageBinary {
					err = fmt.Errorf("got a %v frame", typ)
				}
				got += len(data)
			}
			cancel()
			if err != nil {
				c.errs.Add(1)
				return s
			}
			c.ops.Add(1)
			c.bytes.Add(int64(size))
			s = record(s, time.Since(t0))
		}
		return s
	})
	percentiles(&r, samples)
	return r, nil
}

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
