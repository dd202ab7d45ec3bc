package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRing: the ring keeps the last n samples, oldest first, through
// several wraps, and never grows.
func TestRing(t *testing.T) {
	r := newRing(4)
	if got := r.samples(); len(got) != 0 {
		t.Fatalf("empty ring: %d samples", len(got))
	}
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(i int) Sample {
		return Sample{Time: base.Add(time.Duration(i) * time.Second), UDPSessions: int64(i)}
	}
	seq := func(ss []Sample) []int64 {
		var out []int64
		for _, s := range ss {
			out = append(out, s.UDPSessions)
		}
		return out
	}
	want := map[int][]int64{1: {0}, 3: {0, 1, 2}, 4: {0, 1, 2, 3}, 5: {1, 2, 3, 4}, 7: {3, 4, 5, 6}, 8: {4, 5, 6, 7}, 11: {7, 8, 9, 10}}
	for i := range 11 {
		r.add(at(i))
		if w, ok := want[i+1]; ok {
			got := r.samples()
			if !slices.Equal(seq(got), w) {
				t.Errorf("after %d adds: %v, want %v", i+1, seq(got), w)
			}
			for j := 1; j < len(got); j++ {
				if !got[j].Time.After(got[j-1].Time) {
					t.Errorf("after %d adds: not oldest first: %v", i+1, seq(got))
				}
			}
		}
		if cap(r.buf) != 4 || len(r.buf) > 4 {
			t.Fatalf("ring grew: len %d cap %d", len(r.buf), cap(r.buf))
		}
	}
	// samples is a copy: changing it leaves the ring alone.
	got := r.samples()
	got[0].UDPSessions = 99
	if r.samples()[0].UDPSessions != 7 {
		t.Error("samples shares the ring's memory")
	}
	if newRing(0).add(at(1)); len(newRing(0).buf) != 0 || cap(newRing(0).buf) != 1 {
		t.Error("a ring of 0 is not one of 1")
	}
	full := newRing(HistorySamples)
	for i := range 3 * HistorySamples {
		full.add(at(i))
	}
	if s := full.samples(); len(s) != HistorySamples || s[0].UDPSessions != 2*HistorySamples || s[len(s)-1].UDPSessions != 3*HistorySamples-1 {
		t.Errorf("full ring: %d samples, %d…%d", len(s), s[0].UDPSessions, s[len(s)-1].UDPSessions)
	}
}

// TestSample: a sample reads the gauges and turns the counters' growth into
// rates over the time since the last one.
func TestSample(t *testing.T) {
	m := newTestMetrics(Gauges{Listeners: []ListenerGauge{{Name: "chat", Active: 4}, {Name: "lobby", Active: 2}}})
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	last := m.totals(t0)
	chat := m.Listener("chat")
	chat.Connection(4, 3000, 7000)
	chat.PolicyServed()
	chat.PolicyServed()
	chat.Rejected("max_connections")
	chat.Rejected("banned") // a reason not created up front counts too
	m.Listener("lobby").Rejected("proxy_header")
	u := m.UDP("voice")
	u.SessionOpened()
	u.SessionOpened()
	m.UDP("chat-udp").SessionOpened()
	s, next := m.sample(t0.Add(10*time.Second), last)
	if s.BytesPerSec != 1000 || s.PolicyPerSec != 0.2 || s.RefusalsPerSec != 0.3 || s.UDPSessions != 3 ||
		s.Active["chat"] != 4 || s.Active["lobby"] != 2 || !s.Time.Equal(t0.Add(10*time.Second)) {
		t.Errorf("sample %+v", s)
	}
	// Nothing new: the rates fall to 0, the gauges stay.
	s, _ = m.sample(t0.Add(20*time.Second), next)
	if s.BytesPerSec != 0 || s.PolicyPerSec != 0 || s.RefusalsPerSec != 0 || s.UDPSessions != 3 || s.Active["chat"] != 4 {
		t.Errorf("idle sample %+v", s)
	}
}

// TestHistoryEndpoint: the sampler runs while the server does, /status/history
// serves its samples oldest first behind the token, and Stop ends it.
func TestHistoryEndpoint(t *testing.T) {
	m := newTestMetrics(Gauges{Listeners: []ListenerGauge{{Name: "chat", Active: 5}}})
	s, _ := startServerWith(t, Config{Token: "s3cret", Metrics: m, SampleInterval: 20 * time.Millisecond})
	if resp, _ := get(t, s, "/status/history", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("history without the token: %d", resp.StatusCode)
	}
	var h History
	deadline := time.Now().Add(30 * time.Second)
	for len(h.Samples) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		resp, body := get(t, s, "/status/history", "s3cret")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("history: %d %v", resp.StatusCode, resp.Header)
		}
		h = History{}
		if err := json.Unmarshal([]byte(body), &h); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		if !strings.Contains(body, `"active":{"chat":5}`) && len(h.Samples) > 0 {
			t.Fatalf("history lacks the active gauge:\n%s", body)
		}
	}
	if len(h.Samples) < 3 || h.IntervalSeconds != 0.02 {
		t.Fatalf("history: %+v", h)
	}
	for i := 1; i < len(h.Samples); i++ {
		if h.Samples[i].Time.Before(h.Samples[i-1].Time) {
			t.Errorf("samples not oldest first: %v then %v", h.Samples[i-1].Time, h.Samples[i].Time)
		}
	}
	s.Stop()
	n := len(s.history.samples())
	select {
	case <-s.sampled:
	default:
		t.Fatal("sampler still running after Stop")
	}
	time.Sleep(60 * time.Millisecond)
	if len(s.history.samples()) != n {
		t.Error("samples added after Stop")
	}
}

// TestCharts: the page's charts place samples on the hour before now and
// scale them to their maximum.
func TestCharts(t *testing.T) {
	now := time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)
	samples := []Sample{
		{Time: now.Add(-2 * time.Hour), Active: map[string]int64{"old": 9}}, // outside the hour: dropped
		{Time: now.Add(-time.Hour), Active: map[string]int64{"chat": 0}, BytesPerSec: 1500},
		{Time: now.Add(-30 * time.Minute), Active: map[string]int64{"chat": 4, "lobby": 1}, BytesPerSec: 0},
		{Time: now, Active: map[string]int64{"chat": 2, "lobby": 3}, BytesPerSec: 2000, UDPSessions: 7},
	}
	cs := charts(samples, now)
	ids := []string{}
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, " ") != "chart-active chart-bytes chart-policy chart-refusals chart-udp" {
		t.Fatalf("charts %v", ids)
	}
	a := cs[0]
	if len(a.Lines) != 2 || a.Lines[0].Name != "chat" || a.Lines[1].Name != "lobby" || a.Max != "5" || a.Now != "5" {
		t.Fatalf("active chart %+v", a)
	}
	// chat: 0 at the left edge (bottom), 4 at the middle, 2 at the right.
	if a.Lines[0].Points != "0.0,80.0 160.0,16.0 320.0,48.0" || a.Lines[1].N != 2 {
		t.Errorf("chat points %q, lobby %d samples", a.Lines[0].Points, a.Lines[1].N)
	}
	if b := cs[1]; b.Max != "2 kB/s" || b.Now != "2 kB/s" {
		t.Errorf("bytes chart %+v", b)
	}
	if u := cs[4]; u.Now != "7" || u.Max != "10" {
		t.Errorf("udp chart %+v", u)
	}
	if e := charts(nil, now); len(e) != 5 || len(e[0].Lines) != 0 || e[1].Now != "—" || e[1].Lines[0].Points != "" {
		t.Errorf("empty charts %+v", e)
	}
	for v, want := range map[float64]float64{0: 1, 0.3: 1, 1: 1, 1.5: 2, 3: 5, 7: 10, 10: 10, 11: 20, 4200: 5000} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
	for v, want := range map[float64]string{0: "0 B/s", 999: "999 B/s", 1500: "1.5 kB/s", 2e6: "2 MB/s", 3.5e12: "3500 GB/s"} {
		if got := byteRate(v); got != want {
			t.Errorf("byteRate(%v) = %q, want %q", v, got, want)
		}
	}
}
