package admin

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromium returns the headless browser, or skips loudly (fails under CI,
// where .ci/install-peers installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, c := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not installed (.ci/install-peers installs it)")
	}
	t.Skip("SKIPPED LOUDLY: chromium not installed; apt-get install chromium to render the status page and its charts")
	return ""
}

// fillHistory stores an hour of made-up samples ending at now, with a shape
// a reader can check in the screenshot: chat's connections rise and fall,
// lobby's stay flat, traffic comes in waves.
func fillHistory(r *ring, now time.Time) {
	for i := range HistorySamples {
		at := now.Add(-time.Duration(HistorySamples-1-i) * DefaultSampleInterval)
		x := float64(i) / HistorySamples
		r.add(Sample{
			Time:           at,
			Active:         map[string]int64{"chat": int64(40 + 30*math.Sin(2*math.Pi*x)), "lobby": 12},
			BytesPerSec:    250e3 * (1 + math.Sin(6*math.Pi*x)),
			PolicyPerSec:   float64(i%30) / 10,
			RefusalsPerSec: map[bool]float64{true: 4, false: 0}[i%90 == 45],
			UDPSessions:    int64(i / 40),
		})
	}
}

// TestStatusPageChartsInChromium opens the page as a browser would with a
// token set (credentials in the URL, answered with HTTP Basic), takes a
// screenshot and checks the charts in the rendered DOM.
// FLASHGATE_KEEP_SCREENSHOT=DIR keeps the screenshot there to look at.
func TestStatusPageChartsInChromium(t *testing.T) {
	browser := chromium(t)
	// The sampler's own first sample is an hour away: only the made-up
	// history is drawn, whatever the time the browser takes.
	s, src := startServerWith(t, Config{Token: "s3cret", SampleInterval: time.Hour})
	fillHistory(s.history, src.Status().Time)
	dir := t.TempDir()
	url := "http://ops:s3cret@" + s.Addr().String() + "/"
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + filepath.Join(dir, "profile"), "--window-size=1200,1100"}
		cmd := exec.CommandContext(ctx, browser, append(append(base, args...), url)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, errb.String())
		}
		return out.String()
	}
	shot := filepath.Join(dir, "status-page.png")
	run("--screenshot=" + shot)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	if keep := os.Getenv("FLASHGATE_KEEP_SCREENSHOT"); keep != "" {
		data, _ := os.ReadFile(shot)
		if err := os.WriteFile(filepath.Join(keep, "status-page-charts.png"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dom := run("--dump-dom")
	if strings.Contains(dom, "unauthorized") || !strings.Contains(dom, `id="total-active"`) {
		t.Fatalf("the page did not open with user:token@ in the URL:\n%s", dom)
	}
	for _, id := range []string{"chart-active", "chart-bytes", "chart-policy", "chart-refusals", "chart-udp"} {
		m := regexp.MustCompile(`id="` + id + `"[\s\S]*?<svg[\s\S]*?</svg>`).FindString(dom)
		if m == "" {
			t.Errorf("%s: no chart with an svg in the DOM", id)
			continue
		}
		lines := regexp.MustCompile(`<polyline[^>]*data-samples="(\d+)"[^>]*points="([^"]*)"`).FindAllStringSubmatch(m, -1)
		want := 1
		if id == "chart-active" {
			want = 2 // chat and lobby
		}
		if len(lines) != want {
			t.Errorf("%s: %d lines, want %d", id, len(lines), want)
		}
		for _, l := range lines {
			if l[1] != "360" || len(strings.Fields(l[2])) != 360 {
				t.Errorf("%s: a line of %s samples, %d points; want 360", id, l[1], len(strings.Fields(l[2])))
			}
		}
	}
	if !strings.Contains(dom, `<span id="version">`+BuildVersion()+`</span>`) {
		t.Error("the version is not on the page")
	}
	if !regexp.MustCompile(`id="chart-bytes"[\s\S]*?data-now="[\d.]+ kB/s"`).MatchString(dom) {
		t.Error("the bytes chart has no kB/s reading")
	}
}
