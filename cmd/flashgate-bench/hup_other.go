//go:build !unix

package main

import (
	"fmt"
	"runtime"
)

// sendHUP fails: this system has no SIGHUP (run soak with -hup 0).
func sendHUP(int) error {
	return fmt.Errorf("no SIGHUP on %s: run soak with -hup 0", runtime.GOOS)
}
