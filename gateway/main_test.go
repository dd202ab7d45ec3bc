package gateway

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// The integration tests run on both engines: the event loops (raw TCP on
// Linux) and the goroutine relay alone (every connection a net.Conn stream,
// as on other systems). -engine picks one; the default runs the suite twice.
var engineFlag = flag.String("engine", "both", "engine for the integration tests: loop, goroutine or both")

// testEngine is the engine of the run in progress; startGateway reads it.
var testEngine = "loop"

func TestMain(m *testing.M) {
	flag.Parse()
	var engines []string
	switch *engineFlag {
	case "loop", "goroutine":
		engines = []string{*engineFlag}
	case "both":
		engines = []string{"loop", "goroutine"}
	default:
		fmt.Fprintf(os.Stderr, "-engine %q: want loop, goroutine or both\n", *engineFlag)
		os.Exit(2)
	}
	code := 0
	for _, e := range engines {
		testEngine = e
		fmt.Printf("=== engine: %s\n", e)
		if c := m.Run(); c != 0 {
			code = c
		}
	}
	os.Exit(code)
}

// goroutineEngine is a startGateway adjustment that keeps the event loops
// off when the goroutine engine runs.
func goroutineEngine(g *Gateway) {
	if testEngine == "goroutine" {
		g.loopCount = -1
	}
}

// onlyEngine skips a test that is about one engine when the other runs.
func onlyEngine(t testing.TB, engine, why string) {
	t.Helper()
	if testEngine != engine {
		t.Skipf("runs on the %s engine only: %s", engine, why)
	}
}
