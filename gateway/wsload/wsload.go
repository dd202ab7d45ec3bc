// Package wsload drives WebSocket echo servers for benchmarks: ping-pong
// (one message out, wait for its echo: messages/s and latency percentiles)
// or bulk (send continuously, count what comes back: MB/s). It treats the
// server's frames as a byte stream, as Ruffle does, so a bridge may split or
// merge echoed messages.
//
// Typical use:
//
//	res := wsload.Run(ctx, "ws://127.0.0.1:8080/bench", 4, 64, 5*time.Second, wsload.PingPong)
//	fmt.Println(res)
package wsload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Modes of Run.
const (
	PingPong = "pingpong"
	Bulk     = "bulk"
)

// Result is one run's outcome.
type Result struct {
	Mode       string
	Conns      int
	Size       int
	Duration   time.Duration
	Messages   int64 // round trips (pingpong) or messages sent (bulk)
	Bytes      int64 // echoed bytes received
	MsgsPerSec float64
	MBPerSec   float64 // echoed bytes received per second, 10^6 bytes
	P50, P99   time.Duration
	Err        error // the first connection error, if any
}

func (r Result) String() string {
	s := fmt.Sprintf("%s conns=%d size=%d: %.0f msg/s, %.1f MB/s", r.Mode, r.Conns, r.Size, r.MsgsPerSec, r.MBPerSec)
	if r.Mode == PingPong {
		s += fmt.Sprintf(", p50 %v, p99 %v", r.P50, r.P99)
	}
	if r.Err != nil {
		s += fmt.Sprintf(" (error: %v)", r.Err)
	}
	return s
}

// Run opens conns WebSockets to url and drives them for d in mode with
// messages of size bytes. The header, if any, is sent with each handshake
// (e.g. an Origin).
func Run(ctx context.Context, url string, conns, size int, d time.Duration, mode string) Result {
	return RunWithHeader(ctx, url, nil, conns, size, d, mode)
}

// RunWithHeader is Run with extra handshake headers.
func RunWithHeader(ctx context.Context, url string, h http.Header, conns, size int, d time.Duration, mode string) Result {
	res := Result{Mode: mode, Conns: conns, Size: size}
	cs := make([]*websocket.Conn, 0, conns)
	defer func() {
		for _, c := range cs {
			c.CloseNow()
		}
	}()
	for range conns {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPHeader: h})
		cancel()
		if err != nil {
			res.Err = err
			return res
		}
		c.SetReadLimit(-1)
		cs = append(cs, c)
	}
	rctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		wg       sync.WaitGroup
		msgs     atomic.Int64
		got      atomic.Int64
		mu       sync.Mutex
		lats     []time.Duration
		firstErr error
	)
	fail := func(err error) {
		if err == nil || rctx.Err() != nil {
			return
		}
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	start := time.Now()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = 'a' + byte(i%26)
			}
			if mode == Bulk {
				go func() {
					for rctx.Err() == nil {
						if err := c.Write(rctx, websocket.MessageBinary, msg); err != nil {
							fail(err)
							return
						}
						msgs.Add(1)
					}
				}()
				buf := make([]byte, 64<<10)
				for rctx.Err() == nil {
					_, r, err := c.Reader(rctx)
					if err != nil {
						fail(err)
						return
					}
					for {
						n, err := r.Read(buf)
						got.Add(int64(n))
						if err != nil {
							if !errors.Is(err, io.EOF) {
								fail(err)
							}
							break
						}
					}
				}
				return
			}
			local := make([]time.Duration, 0, 1<<16)
			buf := make([]byte, 64<<10)
			for rctx.Err() == nil {
				t0 := time.Now()
				if err := c.Write(rctx, websocket.MessageBinary, msg); err != nil {
					fail(err)
					break
				}
				want := size
				for want > 0 {
					typ, r, err := c.Reader(rctx)
					if err != nil {
						fail(err)
						want = -1
						break
					}
					if typ != websocket.MessageBinary {
						fail(errors.New("text frame received"))
					}
					for {
						n, err := r.Read(buf)
						want -= n
						if err != nil {
							break
						}
					}
				}
				if want < 0 {
					break
				}
				local = append(local, time.Since(t0))
				msgs.Add(1)
				got.Add(int64(size))
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	res.Duration = el
	res.Messages, res.Bytes = msgs.Load(), got.Load()
	res.MsgsPerSec = float64(res.Messages) / el.Seconds()
	res.MBPerSec = float64(res.Bytes) / el.Seconds() / 1e6
	if len(lats) > 0 {
		slices.Sort(lats)
		res.P50 = lats[len(lats)/2]
		res.P99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	res.Err = firstErr
	return res
}
