package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// startServe runs "serve -mode MODE" on a free loopback port.
func startServe(t *testing.T, mode string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, options{mode: mode, listen: addr}) }()
	t.Cleanup(func() { cancel(); <-done })
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("serve %s did not start", mode)
	return ""
}

func TestModesAgainstBuiltinBackends(t *testing.T) {
	echo := startServe(t, "echo")
	discard := startServe(t, "discard")
	policy := startServe(t, "policy")
	tests := []struct {
		mode, target string
		extra        []string
		check        func(Result) bool
	}{
		{"connrate", echo, nil, func(r Result) bool { return r.Ops > 0 && r.P99ms > 0 && r.Errors == 0 }},
		{"latency", echo, []string{"-rate", "200"}, func(r Result) bool { return r.Ops > 0 && r.P50ms > 0 }},
		{"throughput", discard, nil, func(r Result) bool { return r.MBPerSec > 0 }},
		{"policy", policy, nil, func(r Result) bool { return r.Ops > 0 && r.Errors == 0 }},
		{"xml", echo, nil, func(r Result) bool { return r.Ops > 0 && r.Errors == 0 }},
		{"idle", echo, []string{"-conns", "20"}, func(r Result) bool { return r.Conns == 20 }},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{tt.mode, "-target", tt.target, "-duration", "300ms", "-json", "-label", "t"}, tt.extra...)
			if code := run(args, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var r Result
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			if r.Mode != tt.mode || r.Label != "t" || !tt.check(r) {
				t.Fatalf("implausible result: %+v", r)
			}
		})
	}
}

func TestPolicyModeCountsBadAnswers(t *testing.T) {
	echo := startServe(t, "echo") // echoes the request: it ends in NUL but the server never closes
	var out, errb bytes.Buffer
	code := run([]string{"policy", "-target", echo, "-duration", "200ms", "-json", "-conns", "1"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r Result
	json.Unmarshal(out.Bytes(), &r)
	if r.Ops != 0 {
		t.Fatalf("counted %d answers from an echo that never closes", r.Ops)
	}
}

func TestReport(t *testing.T) {
	in := strings.Join([]string{
		`{"mode":"throughput","label":"direct","seconds":1,"mb_per_sec":1000}`,
		`{"mode":"throughput","label":"flashgate","seconds":1,"mb_per_sec":800}`,
		`{"mode":"throughput","label":"flashgate","seconds":1,"mb_per_sec":900}`,
		`{"mode":"throughput","label":"flashgate","seconds":1,"mb_per_sec":700}`,
		`{"mode":"throughput","label":"haproxy","seconds":1,"mb_per_sec":400}`,
		`{"mode":"idle","label":"flashgate","seconds":1,"rss_per_conn_kb":4}`,
		`{"mode":"idle","label":"nginx","seconds":1,"rss_per_conn_kb":8}`,
	}, "\n")
	var out bytes.Buffer
	if err := report(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"haproxy", "2.00x", "0.80x", "nginx"} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q:\n%s", want, s)
		}
	}
}

func TestBadFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"throughput", "-duration", "0s"}, &out, &errb); code != 2 {
		t.Fatalf("zero duration: exit %d", code)
	}
	if code := run([]string{"nosuchmode"}, &out, &errb); code != 2 {
		t.Fatalf("unknown mode: exit %d", code)
	}
	// The usage names every mode.
	for mode := range modes {
		if !regexp.MustCompile(`(?m)^  ` + mode + ` `).MatchString(usage) {
			t.Errorf("usage does not list mode %q", mode)
		}
	}
	for _, mode := range []string{"serve", "report"} {
		if !strings.Contains(usage, "\n  "+mode+" ") {
			t.Errorf("usage does not list mode %q", mode)
		}
	}
}

// TestReportCPU: CPU per connection is compared inverted (less is better)
// and left out for targets measured without -pid.
func TestReportCPU(t *testing.T) {
	in := strings.Join([]string{
		`{"mode":"connrate","label":"direct","seconds":1,"ops_per_sec":9000}`,
		`{"mode":"connrate","label":"flashgate","seconds":1,"ops_per_sec":5000,"cpu_us_per_op":150}`,
		`{"mode":"connrate","label":"haproxy","seconds":1,"ops_per_sec":5000,"cpu_us_per_op":180}`,
	}, "\n")
	var out bytes.Buffer
	if err := report(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !regexp.MustCompile(`CPU µs/conn\s+haproxy\s+180\.000\s+1\s+1\.20x`).MatchString(s) {
		t.Errorf("no inverted CPU ratio for haproxy:\n%s", s)
	}
	if regexp.MustCompile(`CPU µs/conn\s+direct`).MatchString(s) {
		t.Errorf("a CPU row for a target run without -pid:\n%s", s)
	}
}

// TestProcCPU: the CPU time read for this process grows while it spins,
// and no pid reads as zero.
func TestProcCPU(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	before, err := procCPU(self)
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	after, err := procCPU(self)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("CPU time did not grow while spinning (%d loops): %v → %v", x, before, after)
	}
	if none, err := procCPU(""); err != nil || none != 0 {
		t.Fatalf(`procCPU(""): %v %v`, none, err)
	}
}

// TestReportAligned: every column of the report table starts at the same
// character on every line, with multi-byte metric names ("µ", "÷") and
// labels longer than the header.
func TestReportAligned(t *testing.T) {
	in := strings.Join([]string{
		`{"mode":"connrate","label":"flashgate","seconds":1,"ops_per_sec":5000,"cpu_us_per_op":150,"p99_ms":1}`,
		`{"mode":"connrate","label":"haproxy-64k-pipes","seconds":1,"ops_per_sec":12345.5,"cpu_us_per_op":180,"p99_ms":2}`,
		`{"mode":"throughput","label":"flashgate","seconds":1,"mb_per_sec":1800,"cpu_s_per_gb":0.2}`,
		`{"mode":"throughput","label":"go-relay","seconds":1,"mb_per_sec":1500,"cpu_s_per_gb":0.3}`,
	}, "\n")
	var out bytes.Buffer
	if err := report(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	table, _, _ := strings.Cut(out.String(), "\n\n")
	lines := strings.Split(table, "\n")
	if len(lines) < 5 {
		t.Fatalf("report:\n%s", out.String())
	}
	// Column starts of the header: the first rune of each word.
	header := []rune(lines[0])
	var starts []int
	for i, r := range header {
		if r != ' ' && (i == 0 || header[i-1] == ' ' && (i < 2 || header[i-2] == ' ')) {
			starts = append(starts, i)
		}
	}
	if len(starts) != 6 {
		t.Fatalf("header %q: %d columns, want 6", lines[0], len(starts))
	}
	width := utf8.RuneCountInString(lines[0])
	for _, line := range lines[1:] {
		r := []rune(line)
		// Left-aligned columns (figure, metric, target) start at their header's column.
		for _, c := range starts[:3] {
			if c >= len(r) || r[c] == ' ' || (c > 0 && r[c-1] != ' ') {
				t.Errorf("column at %d misaligned in %q\nheader     %q", c, line, lines[0])
			}
		}
		// Right-aligned columns end with the header: every line is as wide.
		if n := len(r); n != width {
			t.Errorf("line %q is %d characters wide, header %d", line, n, width)
		}
	}
}
