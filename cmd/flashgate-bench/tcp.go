package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/flashgate/flashgate/udprelay/udpload"
)

// maxSamples bounds the latency samples one worker keeps.
const maxSamples = 1 << 20

// worker runs one load loop until the deadline; it returns its latency
// samples and counts ops and errors through the shared counters.
type worker func(ctx context.Context, id int, deadline time.Time, c *counters) []time.Duration

type counters struct {
	ops, errs, bytes atomic.Int64
	firstErr         atomic.Pointer[string]
}

// fail counts an error and keeps the first one for the result's note.
func (c *counters) fail(err error) {
	c.errs.Add(1)
	if err != nil {
		s := err.Error()
		c.firstErr.CompareAndSwap(nil, &s)
	}
}

// runWorkers runs n workers for d and collects their results.
func runWorkers(ctx context.Context, n int, d time.Duration, w worker) (Result, []time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	deadline, _ := ctx.Deadline() // the same instant dials give up at
	var c counters
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := w(ctx, i, deadline, &c)
			mu.Lock()
			all = append(all, s...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	r := Result{Conns: n, Seconds: secs, Ops: c.ops.Load(), Errors: c.errs.Load()}
	if e := c.firstErr.Load(); e != nil {
		r.Note = "first error: " + *e
	}
	r.OpsPerSec = float64(r.Ops) / secs
	if b := c.bytes.Load(); b > 0 {
		r.MBPerSec = float64(b) / secs / 1e6
	}
	return r, all
}

// record appends a sample while under the bound.
func record(s []time.Duration, d time.Duration) []time.Duration {
	if len(s) < maxSamples {
		s = append(s, d)
	}
	return s
}

// backoff keeps an erroring worker from spinning.
func backoff(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Millisecond):
	}
}

func dialTCP(ctx context.Context, addr string) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: 3 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// runThroughput streams -size writes over -conns connections to a target
// whose backend discards (flashgate-bench serve -mode discard), then
// half-closes and waits for the close, so every byte counted arrived.
func runThroughput(ctx context.Context, o options) (Result, error) {
	size := defaults(o.size, 64<<10)
	r, _ := runWorkers(ctx, defaults(o.conns, 1), o.duration, func(ctx context.Context, _ int, deadline time.Time, c *counters) []time.Duration {
		tcp, err := dialTCP(ctx, o.target)
		if err != nil {
			c.fail(err)
			return nil
		}
		var conn interface {
			net.Conn
			CloseWrite() error
		} = tcp
		if o.tls {
			host, _, _ := net.SplitHostPort(o.target)
			tc := tls.Client(tcp, &tls.Config{InsecureSkipVerify: true, ServerName: host}) // measuring bytes, not trust
			if err := tc.HandshakeContext(ctx); err != nil {
				c.fail(err)
				tcp.Close()
				return nil
			}
			conn = tc
		}
		defer conn.Close()
		buf := make([]byte, size)
		_ = conn.SetWriteDeadline(deadline)
		for time.Now().Before(deadline) {
			n, err := conn.Write(buf)
			c.bytes.Add(int64(n))
			if err != nil {
				break
			}
			c.ops.Add(1)
		}
		_ = conn.CloseWrite()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.Copy(io.Discard, conn)
		return nil
	})
	r.Note = fmt.Sprintf("%d-byte writes", size)
	if o.tls {
		r.Note += " over TLS"
	}
	return r, nil
}

// runConnRate connects, echoes 16 bytes and closes, in a loop.
func runConnRate(ctx context.Context, o options) (Result, error) {
	msg := []byte("0123456789abcdef")
	return perConnection(ctx, o, func() func(context.Context, *net.TCPConn) error {
		back := make([]byte, len(msg))
		return func(_ context.Context, conn *net.TCPConn) error {
			if _, err := conn.Write(msg); err != nil {
				return err
			}
			if _, err := io.ReadFull(conn, back); err != nil {
				return err
			}
			if !bytes.Equal(back, msg) {
				return fmt.Errorf("echo returned %q", back)
			}
			return nil
		}
	})
}

// perConnection runs -conns workers that each dial, run one exchange on a
// fresh connection, close it and count it, until the run ends. newOp gives
// each worker its exchange (with buffers of its own).
func perConnection(ctx context.Context, o options, newOp func() func(context.Context, *net.TCPConn) error) (Result, error) {
	r, samples := runWorkers(ctx, defaults(o.conns, 8), o.duration, func(ctx context.Context, _ int, deadline time.Time, c *counters) []time.Duration {
		var s []time.Duration
		op := newOp()
		ended := func() bool { return ctx.Err() != nil || !time.Now().Before(deadline) }
		for !ended() {
			t0 := time.Now()
			conn, err := dialTCP(ctx, o.target)
			if err == nil {
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				err = op(ctx, conn)
				conn.Close()
			}
			if err != nil {
				if ended() {
					break // the run ended during this exchange
				}
				c.fail(err)
				backoff(ctx)
				continue
			}
			c.ops.Add(1)
			s = record(s, time.Since(t0))
		}
		return s
	})
	percentiles(&r, samples)
	return r, nil
}

// runLatency ping-pongs -size messages on persistent connections, paced to
// -rate requests per second in total when set.
func runLatency(ctx context.Context, o options) (Result, error) {
	conns := defaults(o.conns, 16)
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(conns) / float64(o.rate))
	}
	r, err := pingPong(ctx, o, conns, make([]byte, defaults(o.size, 64)), interval)
	if o.rate > 0 {
		r.Note = fmt.Sprintf("paced at %d req/s", o.rate)
	}
	return r, err
}

// pingPong writes msg and reads as many bytes back, on persistent
// connections, paced to one exchange per interval per connection when
// interval > 0; a reply that differs from msg is an error.
func pingPong(ctx context.Context, o options, conns int, msg []byte, interval time.Duration) (Result, error) {
	r, samples := runWorkers(ctx, conns, o.duration, func(ctx context.Context, _ int, deadline time.Time, c *counters) []time.Duration {
		conn, err := dialTCP(ctx, o.target)
		if err != nil {
			c.fail(err)
			return nil
		}
		defer conn.Close()
		back := make([]byte, len(msg))
		var s []time.Duration
		next := time.Now()
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if interval > 0 {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(interval)
			}
			t0 := time.Now()
			_ = conn.SetDeadline(t0.Add(5 * time.Second))
			if _, err := conn.Write(msg); err != nil {
				c.fail(err)
				return s
			}
			if _, err := io.ReadFull(conn, back); err != nil || !bytes.Equal(back, msg) {
				c.fail(err)
				return s
			}
			c.ops.Add(1)
			c.bytes.Add(int64(len(msg)))
			s = record(s, time.Since(t0))
		}
		return s
	})
	percentiles(&r, samples)
	return r, nil
}

// runIdle opens -conns relayed connections (each proven by a one-byte echo),
// holds them idle for -duration, and with -pid reports the target process's
// RSS and descriptors per connection.
func runIdle(ctx context.Context, o options) (Result, error) {
	n := defaults(o.conns, 1000)
	rss0, fds0, _ := procUsage(o.pid)
	conns := make([]*net.TCPConn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var errs int64
	one := []byte{'x'}
	for range n {
		c, err := dialTCP(ctx, o.target)
		if err != nil {
			errs++
			continue
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err = c.Write(one); err == nil {
			_, err = io.ReadFull(c, make([]byte, 1))
		}
		if err != nil {
			errs++
			c.Close()
			continue
		}
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second) // let the target settle (flashgate parks idle relays after 1 s)
	r := Result{Conns: len(conns), Errors: errs}
	if o.pid != "" && len(conns) > 0 {
		rss1, fds1, err := procUsage(o.pid)
		if err != nil {
			return r, err
		}
		r.RSSPerConnK = float64(rss1-rss0) / float64(len(conns))
		r.FDsPerConn = float64(fds1-fds0) / float64(len(conns))
	}
	start := time.Now()
	select {
	case <-ctx.Done():
	case <-time.After(o.duration):
	}
	r.Seconds = time.Since(start).Seconds()
	r.Note = fmt.Sprintf("%d connections held", len(conns))
	return r, nil
}

// procUsage sums the resident memory (KB) and open descriptors of the
// processes listed (comma-separated pids, e.g. nginx's workers).
func procUsage(pids string) (rssKB, fds int64, err error) {
	for _, f := range strings.Split(pids, ",") {
		pid, perr := strconv.Atoi(strings.TrimSpace(f))
		if perr != nil || pid <= 0 {
			continue
		}
		r, n, err := procUsageOne(pid)
		if err != nil {
			return 0, 0, err
		}
		rssKB += r
		fds += n
	}
	return rssKB, fds, nil
}

// procCPU sums the CPU time (user and system, all threads) the processes
// listed have used so far; "" is no process.
func procCPU(pids string) (time.Duration, error) {
	var ticks int64
	for _, f := range strings.Split(pids, ",") {
		pid, perr := strconv.Atoi(strings.TrimSpace(f))
		if perr != nil || pid <= 0 {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
		}
		// Fields after the command (which may hold spaces) start at state.
		rest := string(stat)
		if i := strings.LastIndexByte(rest, ')'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 13 {
			return 0, fmt.Errorf("stat of pid %d: too few fields", pid)
		}
		u, _ := strconv.ParseInt(f[11], 10, 64) // utime: field 14
		s, _ := strconv.ParseInt(f[12], 10, 64) // stime: field 15
		ticks += u + s
	}
	return time.Duration(ticks) * (time.Second / clockTicks), nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// procUsageOne reads one process's resident memory (KB) and descriptors.
func procUsageOne(pid int) (rssKB, fds int64, err error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			rssKB, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return rssKB, 0, fmt.Errorf("list fds of pid %d: %w", pid, err)
	}
	return rssKB, int64(len(ents)), nil
}

var policyRequest = []byte("<policy-file-request/>\x00")

// runPolicy asks for the socket policy in a loop and checks the NUL-ended
// answer and the close.
func runPolicy(ctx context.Context, o options) (Result, error) {
	return perConnection(ctx, o, func() func(context.Context, *net.TCPConn) error {
		buf := make([]byte, 16<<10)
		return func(_ context.Context, conn *net.TCPConn) error {
			if _, err := conn.Write(policyRequest); err != nil {
				return err
			}
			n := 0
			var err error
			for err == nil && n < len(buf) {
				var m int
				m, err = conn.Read(buf[n:])
				n += m
			}
			// The answer ends in NUL, then the close. (npm policyfile sends
			// no NUL; the player takes the close as the end too.)
			if !errors.Is(err, io.EOF) || !bytes.Contains(buf[:n], []byte("</cross-domain-policy>")) {
				return fmt.Errorf("answer %q…, %v", buf[:min(n, 40)], err)
			}
			return nil
		}
	})
}

// runXML sends NUL-terminated XML messages through an echo on persistent
// connections and waits for each to come back.
func runXML(ctx context.Context, o options) (Result, error) {
	size := max(defaults(o.size, 64), 16)
	msg := []byte("<m>" + strings.Repeat("x", size-8) + "</m>\x00")
	return pingPong(ctx, o, defaults(o.conns, 8), msg, 0)
}

// runTLS performs full TLS handshakes in a loop (no session resumption).
func runTLS(ctx context.Context, o options) (Result, error) {
	host, _, _ := net.SplitHostPort(o.target)
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: host} // measuring handshakes, not trust
	return perConnection(ctx, o, func() func(context.Context, *net.TCPConn) error {
		return func(ctx context.Context, conn *net.TCPConn) error {
			tc := tls.Client(conn, cfg)
			defer tc.Close()
			return tc.HandshakeContext(ctx)
		}
	})
}

// runUDP drives datagrams through a UDP echo with udpload.
func runUDP(ctx context.Context, o options) (Result, error) {
	res, err := udpload.Run(ctx, o.target, defaults(o.conns, 4), defaults(o.size, 64), o.duration)
	if err != nil {
		return Result{}, err
	}
	return Result{Conns: defaults(o.conns, 4), Seconds: res.Elapsed.Seconds(), Ops: int64(res.Received),
		OpsPerSec: res.PerSecond, Loss: res.Loss}, nil
}
