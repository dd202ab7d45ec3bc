// Package udpload drives UDP load at an echo service (directly, or through a
// relay in front of one) and counts what comes back.
//
// Each connection is its own connected socket and keeps a window of
// datagrams in flight: it sends until Window are outstanding, then sends one
// more per reply. A reply that does not come within ReplyTimeout counts the
// window as lost and opens a fresh one, so loss slows the driver but never
// stalls it. After Duration the driver stops sending and drains replies for
// Drain, so Loss counts only datagrams that never came back.
//
// Typical use (cmd/flashgate-bench's udp mode):
//
//	res, err := udpload.Run(ctx, "127.0.0.1:55555", 8, 64, 5*time.Second)
//	fmt.Printf("%.0f datagrams/s, loss %.2f%%\n", res.PerSecond, 100*res.Loss)
package udpload

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Defaults for Options fields left zero.
const (
	DefaultWindow       = 32
	DefaultReplyTimeout = 50 * time.Millisecond
	DefaultDrain        = 250 * time.Millisecond
)

// Options describe one run.
type Options struct {
	Target       string        // host:port of the echo service or the relay
	Conns        int           // concurrent client sockets (each its own session)
	Size         int           // payload bytes per datagram (at least 16 are used for ids)
	Duration     time.Duration // how long to send
	Window       int           // datagrams in flight per connection
	ReplyTimeout time.Duration // silence after which the window counts as lost
	Drain        time.Duration // how long to wait for late replies after sending stops
}

// Result counts one run.
type Result struct {
	Sent       uint64        // datagrams sent
	Received   uint64        // replies received
	Mismatched uint64        // replies carrying another connection's id (must be 0)
	SendErrors uint64        // failed writes (e.g. ECONNREFUSED: nothing listening)
	Loss       float64       // 1 - Received/Sent
	PerSecond  float64       // replies per second over the sending time
	Elapsed    time.Duration // sending time
}

func (r Result) String() string {
	return fmt.Sprintf("sent %d received %d loss %.3f%% %.0f datagrams/s", r.Sent, r.Received, 100*r.Loss, r.PerSecond)
}

// Run drives conns connections of size-byte datagrams at target for duration.
func Run(ctx context.Context, target string, conns, size int, duration time.Duration) (Result, error) {
	return RunOptions(ctx, Options{Target: target, Conns: conns, Size: size, Duration: duration})
}

// RunOptions is Run with every knob.
func RunOptions(ctx context.Context, o Options) (Result, error) {
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.ReplyTimeout <= 0 {
		o.ReplyTimeout = DefaultReplyTimeout
	}
	if o.Drain <= 0 {
		o.Drain = DefaultDrain
	}
	if o.Conns <= 0 || o.Duration <= 0 {
		return Result{}, fmt.Errorf("udpload: need conns > 0 and duration > 0 (got %d, %s)", o.Conns, o.Duration)
	}
	o.Size = max(o.Size, 16)
	addr, err := net.ResolveUDPAddr("udp", o.Target)
	if err != nil {
		return Result{}, fmt.Errorf("udpload: target %q: %w", o.Target, err)
	}
	socks := make([]*net.UDPConn, 0, o.Conns)
	defer func() {
		for _, c := range socks {
			c.Close()
		}
	}()
	for range o.Conns {
		c, err := net.DialUDP("udp", nil, addr)
		if err != nil {
			return Result{}, fmt.Errorf("udpload: dial %s: %w", o.Target, err)
		}
		socks = append(socks, c)
	}
	results := make([]Result, o.Conns)
	start := time.Now()
	end := start.Add(o.Duration)
	var wg sync.WaitGroup
	for i, c := range socks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = drive(ctx, c, uint64(i), o, end)
		}()
	}
	wg.Wait()
	var total Result
	for _, r := range results {
		total.Sent += r.Sent
		total.Received += r.Received
		total.Mismatched += r.Mismatched
		total.SendErrors += r.SendErrors
	}
	total.Elapsed = min(time.Since(start), o.Duration)
	if total.Sent > 0 {
		total.Loss = 1 - float64(total.Received)/float64(total.Sent)
	}
	total.PerSecond = float64(total.Received) / total.Elapsed.Seconds()
	return total, nil
}

// drive runs one connection: a window of datagrams in flight until end, then a drain.
func drive(ctx context.Context, c *net.UDPConn, id uint64, o Options, end time.Time) Result {
	var res Result
	out := make([]byte, o.Size)
	in := make([]byte, o.Size+64)
	binary.BigEndian.PutUint64(out, id)
	inflight := 0
	count := func(n int) {
		res.Received++
		if n < 8 || binary.BigEndian.Uint64(in) != id {
			res.Mismatched++
		}
	}
	for ctx.Err() == nil {
		now := time.Now()
		if !now.Before(end) {
			break
		}
		for inflight < o.Window {
			binary.BigEndian.PutUint64(out[8:], res.Sent)
			if _, err := c.Write(out); err != nil {
				res.SendErrors++
				inflight = o.Window // wait for the reply timeout before retrying
				break
			}
			res.Sent++
			inflight++
		}
		_ = c.SetReadDeadline(now.Add(o.ReplyTimeout))
		n, err := c.Read(in)
		if err != nil {
			inflight = 0 // the window is lost (or refused): start a fresh one
			continue
		}
		count(n)
		inflight = max(inflight-1, 0)
	}
	_ = c.SetReadDeadline(time.Now().Add(o.Drain))
	for {
		n, err := c.Read(in)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, net.ErrClosed) {
				break
			}
			continue // ECONNREFUSED from an earlier datagram
		}
		count(n)
	}
	return res
}
