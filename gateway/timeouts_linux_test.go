package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
)

// TestEventedSniffTimeoutAmongLongTimeouts: a loop that holds only
// connections with long timeouts (idle and connect 10 min) still ends a
// new connection's 300 ms sniff_timeout on time, when the connection
// sends its PROXY header first and only then starts sniffing. Each
// connection's timer is its own and follows its state (evtimer_linux.go);
// a loop that instead woke every tenth of the shortest timeout it saw,
// bounded to a second, saw only the PROXY stage's long timeout and ended
// such a connection most of a second late. The gateway's own duration is
// measured; the bound, 500 ms past the deadline, is far looser than the
// few milliseconds a timer takes, yet catches a once-a-second sweep (which
// was ~730 ms late here).
func TestEventedSniffTimeoutAmongLongTimeouts(t *testing.T) {
	onlyEngine(t, "loop", "it tests the event loops' timers")
	const sniff, lateMax = 300 * time.Millisecond, 500 * time.Millisecond
	backend := startBackend(t, echoHandler)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: []string{backend}, ConnectTimeout: 10 * time.Minute}}
	long := testListener("long", "", "b")
	long.IdleTimeout = 10 * time.Minute
	policy := testListener("sniff", "games", "") // policy only: silence is closed
	policy.SniffTimeout = sniff
	policy.ProxyProtocol = "v1"
	cfg.Listeners = []*config.Listener{long, policy}
	gw, logs, _ := startGateway(t, cfg, hostsOnly, func(g *Gateway) { g.loopCount = 1 })
	for i := range 40 {
		echoOnce(t, dial(t, gw.Addr("long")), fmt.Sprint(i))
	}
	// One silent connection after another: each sends its PROXY header a
	// little (50 ms) after connecting, then nothing. sniff_timeout counts
	// from the end of the header (evproxy_linux.go), which the gateway does
	// not report; the lateness taken is the gateway's duration less
	// sniff_timeout, which overstates it by the header's delay. A client
	// stalled so that its header went out over headerLate after its dial
	// began would overstate it too much: that connection is left out.
	const headerLate = 150 * time.Millisecond
	const n = 8
	var conclusive []bool // in the order the connections ended
	for range n {
		begin := time.Now()
		c, err := net.DialTimeout("tcp", gw.Addr("sniff").String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		time.Sleep(50 * time.Millisecond)
		if _, err := c.Write([]byte("PROXY TCP4 203.0.113.7 192.0.2.1 51234 9000\r\n")); err != nil {
			t.Fatal(err)
		}
		inTime := time.Since(begin) < headerLate
		_, _ = io.Copy(io.Discard, c) // until the gateway closes it
		c.Close()
		conclusive = append(conclusive, inTime)
	}
	waitFor(t, func() bool { return strings.Count(logs.String(), `"listener":"sniff"`) >= n+1 }, "every silent connection reported")
	durs := closedDurations(t, logs.String(), "sniff")
	if len(durs) != n {
		t.Fatalf("%d silent connections reported, want %d:\n%s", len(durs), n, logs)
	}
	var late, skipped []time.Duration
	for i, d := range durs {
		if d < sniff {
			t.Errorf("a silent connection ended after %v, before its sniff_timeout %v", d, sniff)
		}
		if conclusive[i] {
			late = append(late, d-sniff)
		} else {
			skipped = append(skipped, d-sniff)
		}
	}
	t.Logf("sniff timeouts fired late by %v (left out, header sent late: %v)", late, skipped)
	for _, l := range late {
		if l > lateMax {
			t.Fatalf("sniff timeouts fired late by %v (bound %v)", late, lateMax)
		}
	}
	if len(late) == 0 {
		t.Skip("every client was stalled past sniff_timeout before its header: nothing measured")
	}
}

// closedDurations returns the durations the gateway reported for the
// connections of listener, in the order they ended: measured by the
// gateway itself, so a stalled test client does not lengthen them.
func closedDurations(t *testing.T, logs, listener string) []time.Duration {
	t.Helper()
	var out []time.Duration
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Listener string  `json:"listener"`
			Message  string  `json:"message"`
			Duration float64 `json:"duration_s"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Listener != listener || line.Message != "connection closed" {
			continue
		}
		out = append(out, time.Duration(line.Duration*float64(time.Second)))
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the log: %v", err)
	}
	return out
}
