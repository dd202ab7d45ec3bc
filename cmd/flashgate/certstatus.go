package main

import (
	"fmt"
	"io"
)

// cmdCertStatus implements "flashgate certstatus".
func cmdCertStatus(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "flashgate certstatus: not implemented yet")
	return 2
}
