package admin

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The status page's charts cover the last hour: one sample every
// DefaultSampleInterval, HistorySamples of them, in a ring buffer that
// never grows.
const (
	DefaultSampleInterval = 10 * time.Second
	HistorySamples        = 360
)

// Sample is one point of /status/history and of the page's charts. Rates
// are averaged over the interval since the sample before it; bytes are
// counted when a connection ends (flashgate_bytes_total), so a long
// connection shows up at its close.
type Sample struct {
	Time           time.Time        `json:"time"`
	Active         map[string]int64 `json:"active"` // open connections by listener
	BytesPerSec    float64          `json:"bytes_per_second"`
	PolicyPerSec   float64          `json:"policy_answers_per_second"`
	RefusalsPerSec float64          `json:"refusals_per_second"` // flashgate_rejections_total, every reason
	UDPSessions    int64            `json:"udp_sessions"`
}

// History is the /status/history document: the samples, oldest first.
type History struct {
	IntervalSeconds float64  `json:"interval_seconds"`
	Samples         []Sample `json:"samples"`
}

// ring holds the last samples; safe for concurrent use.
type ring struct {
	mu   sync.Mutex
	buf  []Sample // len grows to cap, then wraps
	next int      // where the next sample goes once full
}

func newRing(n int) *ring { return &ring{buf: make([]Sample, 0, max(n, 1))} }

// add stores s, dropping the oldest sample when full.
func (r *ring) add(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) < cap(r.buf) {
		r.buf = append(r.buf, s)
		return
	}
	r.buf[r.next] = s
	r.next = (r.next + 1) % len(r.buf)
}

// samples returns a copy, oldest first.
func (r *ring) samples() []Sample {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Sample, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// totals are the cumulative counters a sample's rates are derived from.
type totals struct {
	at                      time.Time
	bytes, policy, refusals float64
}

// sampler reads m and records a Sample every interval into r until ctx ends.
func sampler(ctx context.Context, m *Metrics, r *ring, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := m.totals(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var s Sample
			s, last = m.sample(now, last)
			r.add(s)
		}
	}
}

// totals reads the counters at now.
func (m *Metrics) totals(now time.Time) totals {
	return totals{at: now, bytes: sumVec(m.bytes), policy: sumVec(m.policyAnswers), refusals: sumVec(m.rejections)}
}

// sample builds the Sample at now from the gauges and the counters' growth
// since last, and returns the totals the next sample starts from.
func (m *Metrics) sample(now time.Time, last totals) (Sample, totals) {
	cur := m.totals(now)
	s := Sample{Time: now.UTC().Truncate(time.Second), Active: map[string]int64{}, UDPSessions: int64(sumVec(m.udpSessions))}
	if m.gauges != nil {
		for _, l := range m.gauges.Gauges().Listeners {
			s.Active[l.Name] += l.Active
		}
	}
	if secs := cur.at.Sub(last.at).Seconds(); secs > 0 {
		rate := func(a, b float64) float64 { return max(a-b, 0) / secs }
		s.BytesPerSec = rate(cur.bytes, last.bytes)
		s.PolicyPerSec = rate(cur.policy, last.policy)
		s.RefusalsPerSec = rate(cur.refusals, last.refusals)
	}
	return s, cur
}

// sumVec adds up every series of a counter or gauge vector.
func sumVec(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	var sum float64
	for pm := range ch {
		var d dto.Metric
		if pm.Write(&d) != nil {
			continue
		}
		switch {
		case d.Counter != nil:
			sum += d.Counter.GetValue()
		case d.Gauge != nil:
			sum += d.Gauge.GetValue()
		}
	}
	return sum
}
