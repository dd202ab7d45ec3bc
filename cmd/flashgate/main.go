// Command flashgate is an edge gateway for Flash-era socket clients: it answers
// socket policy requests, terminates TLS and relays TCP, XMLSocket, WebSocket
// and UDP traffic to legacy backends. See README.md.
//
// This package holds only flags, signals and wiring; the gateway lives in
// package gateway.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: flashgate COMMAND [flags]

commands:
  run        [-config FILE]                     run the gateway (default config.hcl)
  validate   [-config FILE]                     check a config; exit 1 if invalid
  policy     show [-config FILE] [-name P]      print served socket policies
  policy     lint FILE                          lint a crossdomain.xml
  policy     check FILE -domain D -port P       would a SWF from D reach port P?
  certstatus [-servername N] [-ca FILE] HOST:PORT
                                                AIR CertificateStatus of a TLS server
  version                                       print the version
`

// run dispatches a command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
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
		return cmdVersion(stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "flashgate: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

// parseInterspersed parses flags that may stand before or after positional
// arguments, and returns the positional arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		rest := fs.Args()
		if rest[0] == "--" && len(pos) == 0 {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// flagExit maps a flag parse error to an exit code.
func flagExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
