//go:build !linux && !darwin

package gateway

import (
	"fmt"
	"runtime"
)

// reusePortSupported refuses reuse_port: this system has no SO_REUSEPORT
// (Windows has no option that lets a second process share a port safely).
func reusePortSupported() error {
	return fmt.Errorf("reuse_port (SO_REUSEPORT) is not supported on %s", runtime.GOOS)
}

// setReusePort is never reached: reusePortSupported refuses first.
func setReusePort(uintptr) error { return reusePortSupported() }
