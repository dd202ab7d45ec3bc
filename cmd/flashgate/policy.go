package main

import (
	"fmt"
	"io"
)

// cmdPolicy implements "flashgate policy show|lint|check".
func cmdPolicy(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "flashgate policy: not implemented yet")
	return 2
}
