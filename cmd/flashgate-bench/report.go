package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// report reads JSON result lines (several runs of several targets), takes
// the median of each figure per (mode, label) and prints a ratio table:
// flashgate ÷ each peer and ÷ direct. Ratios are > 1 when flashgate is
// better (for latency and memory the ratio is inverted accordingly).
func report(in io.Reader, out io.Writer) error {
	type key struct{ mode, label string }
	runs := map[key][]Result{}
	var order []key
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] != '{' {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("parse result %q: %w", line, err)
		}
		k := key{r.Mode, r.Label}
		if _, ok := runs[k]; !ok {
			order = append(order, k)
		}
		runs[k] = append(runs[k], r)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	type metric struct {
		name          string
		get           func(Result) float64
		lowerIsBetter bool
	}
	metricsFor := map[string][]metric{
		"throughput": {{"MB/s", func(r Result) float64 { return r.MBPerSec }, false},
			{"CPU s/GB", func(r Result) float64 { return r.CPUsPerGB }, true}},
		"connrate": {{"conn/s", func(r Result) float64 { return r.OpsPerSec }, false},
			{"p99 ms", func(r Result) float64 { return r.P99ms }, true},
			{"CPU µs/conn", func(r Result) float64 { return r.CPUusPerOp }, true}},
		"latency": {{"p50 ms", func(r Result) float64 { return r.P50ms }, true},
			{"p99 ms", func(r Result) float64 { return r.P99ms }, true},
			{"p99.9 ms", func(r Result) float64 { return r.P999ms }, true}},
		"idle": {{"KB/conn", func(r Result) float64 { return r.RSSPerConnK }, true},
			{"fds/conn", func(r Result) float64 { return r.FDsPerConn }, true}},
		"policy": {{"answers/s", func(r Result) float64 { return r.OpsPerSec }, false},
			{"CPU µs/answer", func(r Result) float64 { return r.CPUusPerOp }, true}},
		"xml": {{"msgs/s", func(r Result) float64 { return r.OpsPerSec }, false}},
		"ws": {{"msgs/s", func(r Result) float64 { return r.OpsPerSec }, false},
			{"MB/s", func(r Result) float64 { return r.MBPerSec }, false},
			{"p99 ms", func(r Result) float64 { return r.P99ms }, true}},
		"udp": {{"dgrams/s", func(r Result) float64 { return r.OpsPerSec }, false},
			{"loss", func(r Result) float64 { return r.Loss }, true}},
		"tls": {{"handshakes/s", func(r Result) float64 { return r.OpsPerSec }, false}},
	}
	median := func(rs []Result, get func(Result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		sort.Float64s(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	rows := [][]string{{"figure", "metric", "target", "median", "runs", "flashgate ÷ it"}}
	seenMode := map[string]bool{}
	for _, k := range order {
		if seenMode[k.mode] {
			continue
		}
		seenMode[k.mode] = true
		for _, m := range metricsFor[k.mode] {
			for _, k2 := range order {
				if k2.mode != k.mode {
					continue
				}
				// A label's variant ("-bulk", "-tls") compares with flashgate's.
				ref := "flashgate"
				for _, v := range []string{"-bulk", "-tls"} {
					if strings.HasSuffix(k2.label, v) {
						ref = "flashgate" + v
					}
				}
				fg, haveFG := runs[key{k.mode, ref}]
				var fgv float64
				if haveFG {
					fgv = median(fg, m.get)
				}
				v := median(runs[k2], m.get)
				if v == 0 && strings.HasPrefix(m.name, "CPU") {
					continue // measured only for targets run with -pid
				}
				ratio := "-"
				if haveFG && k2.label != ref && v != 0 && fgv != 0 {
					r := fgv / v
					if m.lowerIsBetter {
						r = v / fgv
					}
					ratio = fmt.Sprintf("%.2fx", r)
				}
				rows = append(rows, []string{k.mode, m.name, k2.label, fmt.Sprintf("%.3f", v), fmt.Sprint(len(runs[k2])), ratio})
			}
		}
	}
	printColumns(out, rows, []bool{false, false, false, true, true, true})
	fmt.Fprintln(out, "\nratios: flashgate's figure over the peer's (inverted for latency, memory, loss, CPU): above 1.00 flashgate is better.")
	return nil
}

// printColumns prints rows as columns two spaces apart, each as wide as its
// widest cell in characters (not bytes: "µ" and "÷" are one column), right
// aligned where right says so.
func printColumns(out io.Writer, rows [][]string, right []bool) {
	width := make([]int, len(right))
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		var b strings.Builder
		for i, cell := range row {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(cell))
			if i > 0 {
				b.WriteString("  ")
			}
			if right[i] {
				b.WriteString(pad + cell)
			} else {
				b.WriteString(cell + pad)
			}
		}
		fmt.Fprintln(out, strings.TrimRight(b.String(), " "))
	}
}
