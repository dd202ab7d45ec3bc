// Command flashgate-bench is a load generator for flashgate and the peers it
// is compared with (HAProxy, nginx stream, socat, websockify, npm policyfile).
// Every run is bounded by -duration; results print as a table or JSON.
//
//	flashgate-bench serve -listen 127.0.0.1:7000 -mode echo
//	flashgate-bench throughput -target 127.0.0.1:8080 -conns 1 -duration 5s
//	flashgate-bench connrate -target 127.0.0.1:8080 -conns 8
//	flashgate-bench policy -target 127.0.0.1:8843
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

const usage = `usage: flashgate-bench MODE [flags]

modes:
  throughput  N connections stream bytes one way to a discarding backend: MB/s
  connrate    connect, 16-byte echo, close, in a loop: connections/s, p50/p99
  latency     ping-pong on persistent connections: p50/p90/p99/p99.9
  idle        hold N relayed connections idle; with -pid, RSS and fds per connection
  policy      policy requests: answers/s
  xml         NUL-framed XML messages through an echo: messages/s
  ws          WebSocket binary messages through an echo: messages/s, MB/s
  udp         datagrams through a UDP echo: datagrams/s and loss
  tls         TLS handshakes/s
  soak        mixed load (-policy -binary -raw -xml -ws -udp listeners) against a running
              flashgate for -duration, SIGHUP every -hup, sampling RSS, fds and goroutines
              (-pid, -metrics): a verdict on leaks
  serve       run a backend for the others: -mode echo|discard|policy|relay|udp-echo|ws-echo
  report      read JSON result lines on stdin; print medians and ratio table

common flags: -target ADDR -conns N -duration D -size BYTES -json -label NAME
`

// options are the flags every mode shares.
type options struct {
	target   string
	conns    int
	duration time.Duration
	size     int
	rate     int
	json     bool
	label    string
	pid      string
	path     string
	mode     string
	listen   string
	to       string
	tls      bool
}

// Result is one measurement; zero fields are left out of the output.
type Result struct {
	Label       string  `json:"label,omitempty"`
	Mode        string  `json:"mode"`
	Target      string  `json:"target,omitempty"`
	Conns       int     `json:"conns,omitempty"`
	Seconds     float64 `json:"seconds"`
	Ops         int64   `json:"ops,omitempty"`
	OpsPerSec   float64 `json:"ops_per_sec,omitempty"`
	MBPerSec    float64 `json:"mb_per_sec,omitempty"`
	P50ms       float64 `json:"p50_ms,omitempty"`
	P90ms       float64 `json:"p90_ms,omitempty"`
	P99ms       float64 `json:"p99_ms,omitempty"`
	P999ms      float64 `json:"p999_ms,omitempty"`
	Errors      int64   `json:"errors,omitempty"`
	Loss        float64 `json:"loss,omitempty"`
	RSSPerConnK float64 `json:"rss_per_conn_kb,omitempty"`
	FDsPerConn  float64 `json:"fds_per_conn,omitempty"`
	// With -pid (not idle or soak): the CPU time the target processes used
	// during the run, per operation and per GB moved. On a shared machine
	// these are steadier than rates: they do not depend on how much CPU the
	// load generator got.
	CPUusPerOp float64 `json:"cpu_us_per_op,omitempty"`
	CPUsPerGB  float64 `json:"cpu_s_per_gb,omitempty"`
	Note       string  `json:"note,omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	mode := args[0]
	if mode == "report" {
		if err := report(os.Stdin, stdout); err != nil {
			fmt.Fprintf(stderr, "flashgate-bench report: %v\n", err)
			return 1
		}
		return 0
	}
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{}
	fs.StringVar(&o.target, "target", "127.0.0.1:8080", "address under test")
	fs.IntVar(&o.conns, "conns", 0, "concurrent connections (mode default when 0)")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "how long to run (every run is bounded)")
	fs.IntVar(&o.size, "size", 0, "message or write size in bytes (mode default when 0)")
	fs.IntVar(&o.rate, "rate", 0, "latency: total requests per second (0 = as fast as possible)")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a table")
	fs.StringVar(&o.label, "label", "", "label for the result row")
	fs.StringVar(&o.pid, "pid", "", "process ids (comma-separated) of the target: idle reads their RSS and fds, other modes their CPU time")
	fs.StringVar(&o.path, "path", "/chat", "ws: URL path")
	fs.StringVar(&o.mode, "mode", "echo", "serve: echo | discard | udp-echo")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:7000", "serve: address to listen on")
	fs.StringVar(&o.to, "to", "", "serve -mode relay: backend address")
	fs.BoolVar(&o.tls, "tls", false, "throughput: stream over TLS (the target terminates it)")
	registerSoakFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if o.duration <= 0 || o.duration > time.Hour {
		fmt.Fprintln(stderr, "flashgate-bench: -duration must be in (0, 1h]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if mode == "serve" {
		if err := serve(ctx, o); err != nil {
			fmt.Fprintf(stderr, "flashgate-bench serve: %v\n", err)
			return 1
		}
		return 0
	}
	f, ok := modes[mode]
	if !ok {
		fmt.Fprintf(stderr, "flashgate-bench: unknown mode %q\n\n%s", mode, usage)
		return 2
	}
	cpu0, cpuErr := procCPU(o.pid)
	res, err := f(ctx, o)
	if o.pid != "" && mode != "idle" && mode != "soak" && cpuErr == nil {
		if cpu1, err := procCPU(o.pid); err == nil {
			used := (cpu1 - cpu0).Seconds()
			if res.Ops > 0 {
				res.CPUusPerOp = used * 1e6 / float64(res.Ops)
			}
			if gb := res.MBPerSec * res.Seconds / 1000; gb > 0 {
				res.CPUsPerGB = used / gb
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "flashgate-bench %s: %v\n", mode, err)
		return 1
	}
	res.Mode, res.Label, res.Target = mode, o.label, o.target
	if o.json {
		enc := json.NewEncoder(stdout)
		_ = enc.Encode(res)
	} else {
		printTable(stdout, res)
	}
	return 0
}

var modes = map[string]func(context.Context, options) (Result, error){
	"throughput": runThroughput,
	"connrate":   runConnRate,
	"latency":    runLatency,
	"idle":       runIdle,
	"policy":     runPolicy,
	"xml":        runXML,
	"ws":         runWS,
	"udp":        runUDP,
	"tls":        runTLS,
	"soak":       runSoak,
}

func printTable(w io.Writer, r Result) {
	fmt.Fprintf(w, "%-10s %-12s", r.Mode, r.Label)
	field := func(name string, v float64, format string) {
		if v != 0 {
			fmt.Fprintf(w, "  %s="+format, name, v)
		}
	}
	field("ops/s", r.OpsPerSec, "%.0f")
	field("MB/s", r.MBPerSec, "%.1f")
	field("p50ms", r.P50ms, "%.3f")
	field("p90ms", r.P90ms, "%.3f")
	field("p99ms", r.P99ms, "%.3f")
	field("p99.9ms", r.P999ms, "%.3f")
	field("loss", r.Loss, "%.4f")
	field("KB/conn", r.RSSPerConnK, "%.2f")
	field("fds/conn", r.FDsPerConn, "%.2f")
	field("cpu_us/op", r.CPUusPerOp, "%.1f")
	field("cpu_s/GB", r.CPUsPerGB, "%.3f")
	if r.Errors > 0 {
		fmt.Fprintf(w, "  errors=%d", r.Errors)
	}
	if r.Note != "" {
		fmt.Fprintf(w, "  (%s)", r.Note)
	}
	fmt.Fprintln(w)
}

// percentiles fills the latency fields from samples (durations).
func percentiles(r *Result, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	at := func(q float64) float64 {
		i := int(q * float64(len(samples)-1))
		return float64(samples[i]) / float64(time.Millisecond)
	}
	r.P50ms, r.P90ms, r.P99ms, r.P999ms = at(0.50), at(0.90), at(0.99), at(0.999)
}

// defaults returns v, or def when v is 0.
func defaults(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
