// Command flashgate is an edge gateway for Flash-era socket clients: it answers
// socket policy requests, terminates TLS and relays TCP, XMLSocket, WebSocket
// and UDP traffic to legacy backends. See README.md.
//
// This package holds only flags, signals and wiring; the gateway lives in
// package gateway.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage())
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(rest, stdout, stderr)
	case "validate":
		return cmdValidate(rest, stdout, stderr)
	case "policy":
		return cmdPolicy(rest, stdout, stderr)
	case "certstatus":
		return cmdCertStatus(rest, stdout, stderr)
	case "version", "-version", "--version":
		return cmdVersion(rest, stdout, stderr)
	case "help":
		return cmdHelp(rest, stdout, stderr)
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, mainUsage())
		return 0
	default:
		var top []string
		for _, name := range commandNames() {
			if !strings.Contains(name, " ") {
				top = append(top, name)
			}
		}
		fmt.Fprintf(stderr, "flashgate: unknown command %q%s\n\n%s", cmd, didYouMean(cmd, append(top, "policy")), mainUsage())
		return 2
	}
}
