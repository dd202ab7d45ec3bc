package admin

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// The status page draws its charts itself, as inline SVG built here: no
// script, no outside resource, so the page keeps its strict
// Content-Security-Policy.

// chartWindow is the time a chart spans, ending now.
const chartWindow = time.Hour

// Chart geometry, in SVG user units (the viewBox).
const (
	chartW = 320.0
	chartH = 80.0
)

// chartColors are the lines' colours, in turn.
var chartColors = [...]string{"#0969da", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#1b7c83", "#bc4c00"}

// chart is one chart of the page.
type chart struct {
	ID    string // the element id: chart-active, chart-bytes, …
	Title string
	Now   string // the latest value, formatted
	Max   string // the top of the scale, formatted
	Lines []chartLine
}

// chartLine is one series: a polyline's points in the viewBox.
type chartLine struct {
	Name   string
	Color  string
	Points string
	N      int // samples drawn
}

// charts turns samples (oldest first) into the page's charts over the hour
// before now.
func charts(samples []Sample, now time.Time) []chart {
	from := now.Add(-chartWindow)
	var in []Sample
	for _, s := range samples {
		if !s.Time.Before(from) && !s.Time.After(now) {
			in = append(in, s)
		}
	}
	var names []string
	for _, s := range in {
		for n := range s.Active {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	active := chart{ID: "chart-active", Title: "active connections"}
	var series [][]float64
	for _, n := range names {
		vals := make([]float64, len(in))
		for i, s := range in {
			v, ok := s.Active[n]
			vals[i] = float64(v)
			if !ok { // not there yet, or removed by a reload
				vals[i] = math.NaN()
			}
		}
		series = append(series, vals)
	}
	active.fill(in, from, names, series, count)
	one := func(id, title string, format func(float64) string, get func(Sample) float64) chart {
		c := chart{ID: id, Title: title}
		vals := make([]float64, len(in))
		for i, s := range in {
			vals[i] = get(s)
		}
		c.fill(in, from, []string{title}, [][]float64{vals}, format)
		return c
	}
	return []chart{
		active,
		one("chart-bytes", "bytes/s relayed", byteRate, func(s Sample) float64 { return s.BytesPerSec }),
		one("chart-policy", "policy answers/s", perSec, func(s Sample) float64 { return s.PolicyPerSec }),
		one("chart-refusals", "refusals/s", perSec, func(s Sample) float64 { return s.RefusalsPerSec }),
		one("chart-udp", "UDP sessions", count, func(s Sample) float64 { return float64(s.UDPSessions) }),
	}
}

// fill scales the series (one value per sample of in; NaN: none) into c's
// lines.
func (c *chart) fill(in []Sample, from time.Time, names []string, series [][]float64, format func(float64) string) {
	top := 0.0
	for _, vals := range series {
		for _, v := range vals {
			if !math.IsNaN(v) {
				top = max(top, v)
			}
		}
	}
	top = niceCeil(top)
	c.Max = format(top)
	c.Now = "—"
	var nowSum float64
	for i, vals := range series {
		var b strings.Builder
		n := 0
		for j, v := range vals {
			if math.IsNaN(v) {
				continue
			}
			x := chartW * in[j].Time.Sub(from).Seconds() / chartWindow.Seconds()
			y := chartH - chartH*v/top
			fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
			n++
		}
		if len(vals) > 0 && !math.IsNaN(vals[len(vals)-1]) {
			nowSum += vals[len(vals)-1]
		}
		c.Lines = append(c.Lines, chartLine{Name: names[i], Color: chartColors[i%len(chartColors)],
			Points: strings.TrimSpace(b.String()), N: n})
	}
	if len(in) > 0 {
		c.Now = format(nowSum)
	}
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (at least 1), so
// the scale reads well.
func niceCeil(v float64) float64 {
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func count(v float64) string { return fmt.Sprintf("%.0f", v) }

func perSec(v float64) string {
	if v < 10 && v != float64(int64(v)) {
		return fmt.Sprintf("%.2f/s", v)
	}
	return fmt.Sprintf("%.0f/s", v)
}

// byteRate formats bytes per second with a decimal unit.
func byteRate(v float64) string {
	for _, u := range []string{"B/s", "kB/s", "MB/s", "GB/s"} {
		if v < 1000 || u == "GB/s" {
			if v == float64(int64(v)) {
				return fmt.Sprintf("%.0f %s", v, u)
			}
			return fmt.Sprintf("%.1f %s", v, u)
		}
		v /= 1000
	}
	return ""
}
