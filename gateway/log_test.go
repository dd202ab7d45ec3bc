package gateway

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
)

// TestLoggerTimeAndUnits: JSON lines carry the time below the second, and
// the console format shows milliseconds.
func TestLoggerTimeAndUnits(t *testing.T) {
	var buf bytes.Buffer
	log, err := NewLogger(config.Log{Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Float64("duration_s", 0.25).Msg("x")
	var line struct {
		Time     string  `json:"time"`
		Duration float64 `json:"duration_s"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	ts, err := time.Parse(time.RFC3339Nano, line.Time)
	if err != nil || !strings.Contains(line.Time, ".") || time.Since(ts) > time.Minute {
		t.Fatalf("time %q (%v): want RFC 3339 with a fraction of a second", line.Time, err)
	}
	buf.Reset()
	log, _ = NewLogger(config.Log{Format: "console"}, &buf)
	log.Info().Msg("y")
	if f := strings.Fields(buf.String()); len(f) == 0 || !strings.Contains(f[0], ".") {
		t.Fatalf("console time without milliseconds: %q", buf.String())
	}
}
