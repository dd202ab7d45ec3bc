package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The soak mode: mixed load against a running flashgate for -duration while
// it is reloaded with SIGHUP every -hup; every 10 s it samples the process's
// RSS, descriptors and goroutines. The verdict: the process never exited,
// RSS is flat over the second half, and the goroutines return to their
// baseline once the load stops.
//
//	flashgate-bench soak -pid 1234 -metrics http://127.0.0.1:19843/metrics \
//	    -policy 127.0.0.1:18843 -binary 127.0.0.1:19100 -raw 127.0.0.1:19150 \
//	    -xml 127.0.0.1:19200 -ws 127.0.0.1:19300 -path /chat -udp 127.0.0.1:19400 -duration 10m
//
// Each kind runs -conns workers (default 2) that churn connections: a
// connection carries 50 exchanges, then a new one is opened. A kind whose
// address is empty is left out.

// soakOptions are the soak mode's own flags (registerSoakFlags).
type soakOptions struct {
	policy, binary, raw, xml, ws, udp string
	metrics                           string
	hup                               time.Duration
	every                             time.Duration
	pause                             time.Duration
	settle                            time.Duration
}

var soakOpts soakOptions

// registerSoakFlags adds the soak mode's flags to the common flag set.
func registerSoakFlags(fs *flag.FlagSet) {
	fs.StringVar(&soakOpts.policy, "policy", "", "soak: policy listener address")
	fs.StringVar(&soakOpts.binary, "binary", "", "soak: binary listener address (in front of an echo)")
	fs.StringVar(&soakOpts.raw, "raw", "", "soak: transparent (unsniffed) listener address (in front of an echo)")
	fs.StringVar(&soakOpts.xml, "xml", "", "soak: xml listener address (in front of an echo)")
	fs.StringVar(&soakOpts.ws, "ws", "", "soak: WebSocket listener address (uses -path; binary echo behind it)")
	fs.StringVar(&soakOpts.udp, "udp", "", "soak: udp block address (in front of a UDP echo)")
	fs.StringVar(&soakOpts.metrics, "metrics", "", "soak: the target's admin /metrics URL (goroutines); FLASHGATE_ADMIN_TOKEN is sent if set")
	fs.DurationVar(&soakOpts.hup, "hup", 30*time.Second, "soak: send SIGHUP to -pid this often (0: never)")
	fs.DurationVar(&soakOpts.every, "sample", 10*time.Second, "soak: sampling interval")
	fs.DurationVar(&soakOpts.pause, "pause", 5*time.Millisecond, "soak: pause between a worker's exchanges")
	fs.DurationVar(&soakOpts.settle, "settle", 20*time.Second, "soak: how long goroutines may take to return to the baseline after the load")
}

// soakKind is one kind of load and its counters.
type soakKind struct {
	name     string
	ops      atomic.Int64
	errs     atomic.Int64
	firstErr atomic.Pointer[string]
	run      func(ctx context.Context, k *soakKind, pause time.Duration)
}

func (k *soakKind) fail(err error) {
	k.errs.Add(1)
	s := err.Error()
	k.firstErr.CompareAndSwap(nil, &s)
}

// soakSample is one reading of the target.
type soakSample struct {
	at         time.Duration
	rssKB, fds int64
	goroutines int64 // -1: not scraped
}

func runSoak(ctx context.Context, o options) (Result, error) {
	so := soakOpts
	pid, err := strconv.Atoi(strings.TrimSpace(o.pid))
	if err != nil || pid <= 0 {
		return Result{}, errors.New("soak needs -pid of the flashgate process")
	}
	if so.every <= 0 {
		return Result{}, errors.New("-sample must be positive")
	}
	var kinds []*soakKind
	add := func(addr, name string, run func(ctx context.Context, k *soakKind, pause time.Duration)) {
		if addr != "" {
			kinds = append(kinds, &soakKind{name: name, run: run})
		}
	}
	add(so.policy, "policy", func(ctx context.Context, k *soakKind, p time.Duration) { soakPolicy(ctx, k, so.policy, p) })
	add(so.binary, "binary", func(ctx context.Context, k *soakKind, p time.Duration) {
		soakStream(ctx, k, so.binary, defaults(o.size, 256), false, p)
	})
	add(so.raw, "raw", func(ctx context.Context, k *soakKind, p time.Duration) {
		soakStream(ctx, k, so.raw, defaults(o.size, 256), false, p)
	})
	add(so.xml, "xml", func(ctx context.Context, k *soakKind, p time.Duration) {
		soakStream(ctx, k, so.xml, defaults(o.size, 256), true, p)
	})
	add(so.ws, "ws", func(ctx context.Context, k *soakKind, p time.Duration) {
		soakWS(ctx, k, "ws://"+so.ws+o.path, defaults(o.size, 256), p)
	})
	add(so.udp, "udp", func(ctx context.Context, k *soakKind, p time.Duration) {
		soakUDP(ctx, k, so.udp, defaults(o.size, 256), p)
	})
	if len(kinds) == 0 {
		return Result{}, errors.New("soak needs at least one of -policy, -binary, -raw, -xml, -ws, -udp")
	}
	out := os.Stdout
	scrape := func() int64 { return scrapeGoroutines(so.metrics) }
	sample := func(start time.Time) (soakSample, error) {
		rss, fds, err := procUsageOne(pid)
		return soakSample{at: time.Since(start).Round(time.Second), rssKB: rss, fds: fds, goroutines: scrape()}, err
	}

	start := time.Now()
	base, err := sample(start)
	if err != nil {
		return Result{}, fmt.Errorf("target pid %d: %w", pid, err)
	}
	fmt.Fprintf(out, "soak: pid %d, %d kinds x %d workers, %v, SIGHUP every %v\n", pid, len(kinds), defaults(o.conns, 2), o.duration, so.hup)
	fmt.Fprintf(out, "%8s %10s %6s %10s %8s %8s\n", "time", "rss_kb", "fds", "goroutines", "ops", "errors")
	printSample := func(s soakSample) {
		var ops, errs int64
		for _, k := range kinds {
			ops += k.ops.Load()
			errs += k.errs.Load()
		}
		fmt.Fprintf(out, "%8v %10d %6d %10d %8d %8d\n", s.at, s.rssKB, s.fds, s.goroutines, ops, errs)
	}
	printSample(base)

	loadCtx, stopLoad := context.WithTimeout(ctx, o.duration)
	defer stopLoad()
	var wg sync.WaitGroup
	for _, k := range kinds {
		for range defaults(o.conns, 2) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k.run(loadCtx, k, so.pause)
			}()
		}
	}

	var samples []soakSample
	var hups int
	died := ""
	tick := time.NewTicker(so.every)
	defer tick.Stop()
	var hupC <-chan time.Time
	if so.hup > 0 {
		ht := time.NewTicker(so.hup)
		defer ht.Stop()
		hupC = ht.C
	}
loop:
	for {
		select {
		case <-loadCtx.Done():
			break loop
		case <-hupC:
			if err := sendHUP(pid); err != nil {
				died = fmt.Sprintf("SIGHUP failed after %v: %v", time.Since(start).Round(time.Second), err)
				break loop
			}
			hups++
		case <-tick.C:
			s, err := sample(start)
			if err != nil {
				died = fmt.Sprintf("process gone after %v: %v", time.Since(start).Round(time.Second), err)
				break loop
			}
			samples = append(samples, s)
			printSample(s)
		}
	}
	stopLoad()
	wg.Wait()

	// After the load: goroutines back to the baseline?
	settled := soakSample{goroutines: -1}
	if died == "" {
		deadline := time.Now().Add(so.settle)
		for {
			s, err := sample(start)
			if err != nil {
				died = fmt.Sprintf("process gone after the load: %v", err)
				break
			}
			settled = s
			back := (s.goroutines < 0 || s.goroutines <= base.goroutines+soakGoroutineSlack) && s.fds <= base.fds+soakFDSlack
			if back || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		if died == "" {
			fmt.Fprint(out, "after the load:\n")
			printSample(settled)
		}
	}

	// The verdict.
	var problems []string
	if died != "" {
		problems = append(problems, died)
	}
	fmt.Fprintf(out, "\n%-8s %10s %8s  %s\n", "kind", "ops", "errors", "first error")
	var totalOps, totalErrs int64
	for _, k := range kinds {
		ops, errs := k.ops.Load(), k.errs.Load()
		totalOps += ops
		totalErrs += errs
		first := ""
		if p := k.firstErr.Load(); p != nil {
			first = *p
		}
		fmt.Fprintf(out, "%-8s %10d %8d  %s\n", k.name, ops, errs, first)
		switch {
		case ops == 0:
			problems = append(problems, k.name+": no successful exchange")
		case float64(errs) > 0.01*float64(ops+errs):
			problems = append(problems, fmt.Sprintf("%s: %d errors in %d exchanges (over 1%%)", k.name, errs, ops+errs))
		}
	}
	flat := rssFlatness(samples)
	fmt.Fprintf(out, "\nSIGHUPs sent: %d\n", hups)
	if flat.n > 0 {
		fmt.Fprintf(out, "RSS over the second half (%d samples): min %d KB, max %d KB, max/min %.3f\n", flat.n, flat.min, flat.max, flat.ratio)
		if flat.ratio > soakMaxRSSRatio {
			problems = append(problems, fmt.Sprintf("RSS not flat: max/min %.3f over the second half (limit %.2f)", flat.ratio, soakMaxRSSRatio))
		}
	} else {
		fmt.Fprintln(out, "RSS: too few samples for a flatness verdict (run longer than 2 sampling intervals)")
	}
	if base.goroutines >= 0 && settled.goroutines >= 0 {
		fmt.Fprintf(out, "goroutines: %d before the load, %d after it\n", base.goroutines, settled.goroutines)
		if settled.goroutines > base.goroutines+soakGoroutineSlack {
			problems = append(problems, fmt.Sprintf("goroutines did not return to the baseline: %d before, %d %v after the load",
				base.goroutines, settled.goroutines, so.settle))
		}
	} else if so.metrics != "" {
		problems = append(problems, "could not scrape go_goroutines from "+so.metrics)
	}
	if died == "" {
		fmt.Fprintf(out, "descriptors: %d before the load, %d after it\n", base.fds, settled.fds)
		if settled.fds > base.fds+soakFDSlack {
			problems = append(problems, fmt.Sprintf("descriptors did not return to the baseline: %d before, %d %v after the load",
				base.fds, settled.fds, so.settle))
		}
	}
	res := Result{Conns: len(kinds) * defaults(o.conns, 2), Seconds: time.Since(start).Seconds(), Ops: totalOps, Errors: totalErrs}
	res.OpsPerSec = float64(totalOps) / o.duration.Seconds()
	if len(problems) > 0 {
		fmt.Fprintf(out, "verdict: FAIL\n  %s\n", strings.Join(problems, "\n  "))
		return res, fmt.Errorf("soak failed: %s", strings.Join(problems, "; "))
	}
	fmt.Fprintln(out, "verdict: PASS (no exit, flat RSS, goroutines and descriptors back to the baseline)")
	res.Note = fmt.Sprintf("PASS; %d SIGHUPs; RSS max/min %.3f", hups, flat.ratio)
	return res, nil
}

// Verdict limits. RSS may wander a little (the Go heap grows in steps, the
// kernel's socket memory is not in RSS); a leak grows without bound.
const (
	soakMaxRSSRatio    = 1.25
	soakGoroutineSlack = 5 // the scrape itself, idle HTTP connections
	soakFDSlack        = 6 // the scrape's connection, pooled splice pipes (2 fds each)
)

type flatness struct {
	n        int
	min, max int64
	ratio    float64
}

// rssFlatness looks at the second half of the samples.
func rssFlatness(samples []soakSample) flatness {
	half := samples[len(samples)/2:]
	if len(samples) < 2 || len(half) == 0 {
		return flatness{}
	}
	f := flatness{n: len(half), min: half[0].rssKB, max: half[0].rssKB}
	for _, s := range half {
		f.min = min(f.min, s.rssKB)
		f.max = max(f.max, s.rssKB)
	}
	if f.min > 0 {
		f.ratio = float64(f.max) / float64(f.min)
	}
	return f
}

// scrapeGoroutines reads go_goroutines (or flashgate_go_goroutines) from a
// Prometheus text endpoint; -1 when it cannot.
func scrapeGoroutines(url string) int64 {
	if url == "" {
		return -1
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return -1
	}
	if tok := os.Getenv("FLASHGATE_ADMIN_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && (f[0] == "go_goroutines" || f[0] == "flashgate_go_goroutines") {
			v, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return int64(v)
			}
		}
	}
	return -1
}

// soakPause waits between exchanges; false when the load is over.
func soakPause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// soakEnded reports whether err only says the load ended.
func soakEnded(ctx context.Context) bool { return ctx.Err() != nil }

// soakPolicy asks for the policy, one connection per request.
func soakPolicy(ctx context.Context, k *soakKind, addr string, pause time.Duration) {
	buf := make([]byte, 16<<10)
	for soakPause(ctx, pause) {
		c, err := dialTCP(ctx, addr)
		if err != nil {
			if !soakEnded(ctx) {
				k.fail(err)
			}
			continue
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		n := 0
		if _, err = c.Write(policyRequest); err == nil {
			for err == nil && n < len(buf) {
				var m int
				m, err = c.Read(buf[n:])
				n += m
			}
		}
		c.Close()
		switch {
		case !errors.Is(err, io.EOF):
			k.fail(fmt.Errorf("policy: %w", err))
		case n == 0 || buf[n-1] != 0:
			k.fail(fmt.Errorf("policy: answer of %d bytes without its NUL", n))
		default:
			k.ops.Add(1)
		}
	}
}

// soakPerConn is how many exchanges a connection carries before the worker
// opens a new one: connections churn all through the soak.
const soakPerConn = 50

// soakStream runs echo exchanges over TCP: size-byte binary writes, or XML
// messages ending in NUL. Every tenth exchange on a binary connection is a
// 64 KiB burst, so bulk (spliced) copies are part of the mix.
func soakStream(ctx context.Context, k *soakKind, addr string, size int, xml bool, pause time.Duration) {
	small := make([]byte, size)
	for i := range small {
		small[i] = byte('a' + i%26)
	}
	if xml {
		small = []byte("<m>" + strings.Repeat("x", max(size-8, 1)) + "</m>\x00")
	}
	bulk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	back := make([]byte, len(bulk))
	for ctx.Err() == nil {
		c, err := dialTCP(ctx, addr)
		if err != nil {
			if !soakEnded(ctx) {
				k.fail(err)
				soakPause(ctx, 100*time.Millisecond)
			}
			continue
		}
		for i := 0; i < soakPerConn && soakPause(ctx, pause); i++ {
			msg := small
			if !xml && i%10 == 9 {
				msg = bulk
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			// Write from a second goroutine for bulk messages: the echo
			// sends back while we still write.
			werr := make(chan error, 1)
			go func() { _, err := c.Write(msg); werr <- err }()
			_, err := io.ReadFull(c, back[:len(msg)])
			if e := <-werr; err == nil {
				err = e
			}
			if err == nil && !bytes.Equal(back[:len(msg)], msg) {
				err = errors.New("echo differs")
			}
			if err != nil {
				if !soakEnded(ctx) {
					k.fail(err)
				}
				break
			}
			k.ops.Add(1)
		}
		_ = c.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.Copy(io.Discard, c)
		c.Close()
	}
}

// soakWS runs binary echo exchanges over WebSocket connections.
func soakWS(ctx context.Context, k *soakKind, url string, size int, pause time.Duration) {
	msg := bytes.Repeat([]byte("w"), size)
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, _, err := websocket.Dial(dctx, url, &websocket.DialOptions{
			HTTPHeader: http.Header{"Origin": []string{"http://127.0.0.1"}},
		})
		cancel()
		if err != nil {
			if !soakEnded(ctx) {
				k.fail(err)
				soakPause(ctx, 100*time.Millisecond)
			}
			continue
		}
		conn.SetReadLimit(int64(size) + 1024)
		for i := 0; i < soakPerConn && soakPause(ctx, pause); i++ {
			wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := conn.Write(wctx, websocket.MessageBinary, msg)
			got := 0
			for err == nil && got < size {
				var data []byte
				_, data, err = conn.Read(wctx)
				got += len(data)
			}
			cancel()
			if err != nil {
				if !soakEnded(ctx) {
					k.fail(err)
				}
				break
			}
			k.ops.Add(1)
		}
		_ = conn.Close(websocket.StatusNormalClosure, "")
	}
}

// soakUDP sends datagrams through the udp block and waits for each echo; a
// new socket (a new session) every soakPerConn*4 datagrams. A datagram not
// echoed within a second counts as an error.
func soakUDP(ctx context.Context, k *soakKind, addr string, size int, pause time.Duration) {
	msg := bytes.Repeat([]byte("u"), size)
	back := make([]byte, size+1)
	for ctx.Err() == nil {
		c, err := net.Dial("udp", addr)
		if err != nil {
			k.fail(err)
			soakPause(ctx, 100*time.Millisecond)
			continue
		}
		for i := 0; i < soakPerConn*4 && soakPause(ctx, pause); i++ {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(msg); err != nil {
				k.fail(err)
				break
			}
			n, err := c.Read(back)
			if err == nil && n != size {
				err = fmt.Errorf("echo of %d bytes, want %d", n, size)
			}
			if err != nil {
				if !soakEnded(ctx) {
					k.fail(err)
				}
				break
			}
			k.ops.Add(1)
		}
		c.Close()
	}
}
