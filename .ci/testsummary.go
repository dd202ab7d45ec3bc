//go:build ignore

// Testsummary reads "go test -json" on stdin and prints what plain "go test"
// prints (the ok/FAIL line of each package, the output of failing tests),
// then every skipped test with its reason, so skips are visible without -v.
//
// Convention: a test that skips because a real peer is missing says so with
// "not installed" or "not found" in its skip message. .ci/install-peers
// installs every such peer, so under CI=true such a skip fails the run: a
// test CI should run did not.
//
//	go test -json ./... | go run .ci/testsummary.go
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type skip struct{ pkg, test, reason string }

func main() {
	buffered := map[string][]string{} // package + test → output lines
	var skips []skip
	failed := false
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		var e event
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil {
			fmt.Println(line)
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Print(e.Output)
		case e.Test == "" && e.Action == "output":
			if e.Output != "PASS\n" {
				fmt.Print(e.Output)
			}
		case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
			// The package ended: print what its unfinished tests said (a
			// panic or a timeout ends a package with its tests open).
			var open []string
			for k := range buffered {
				if strings.HasPrefix(k, e.Package+" ") {
					open = append(open, k)
				}
			}
			sort.Strings(open)
			for _, k := range open {
				if e.Action == "fail" {
					fmt.Print(strings.Join(buffered[k], ""))
				}
				delete(buffered, k)
			}
			failed = failed || e.Action == "fail"
		case e.Action == "output":
			if !strings.HasPrefix(e.Output, "=== ") { // -json runs tests verbosely; plain go test prints no === lines
				buffered[key] = append(buffered[key], e.Output)
			}
		case e.Action == "fail":
			fmt.Print(strings.Join(buffered[key], ""))
			delete(buffered, key)
		case e.Action == "skip":
			var reason []string
			for _, l := range buffered[key] {
				l = strings.TrimSpace(l)
				if l != "" && !strings.HasPrefix(l, "=== ") && !strings.HasPrefix(l, "--- SKIP") {
					reason = append(reason, l)
				}
			}
			skips = append(skips, skip{e.Package, e.Test, strings.Join(reason, " ")})
			delete(buffered, key)
		case e.Action == "pass":
			delete(buffered, key)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: read: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("== skipped tests: %d\n", len(skips))
	var missing []skip
	for _, s := range skips {
		fmt.Printf("SKIP %s %s: %s\n", s.pkg, s.test, s.reason)
		if strings.Contains(s.reason, "not installed") || strings.Contains(s.reason, "not found") {
			missing = append(missing, s)
		}
	}
	if os.Getenv("CI") == "true" && len(missing) > 0 {
		fmt.Printf("== FAIL: %d tests skipped for a missing peer, which .ci/install-peers installs:\n", len(missing))
		for _, s := range missing {
			fmt.Printf("FAIL %s %s: %s\n", s.pkg, s.test, s.reason)
		}
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}
