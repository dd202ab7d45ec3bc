//go:build unix

package main

import "syscall"

// sendHUP asks the gateway with process id pid to reload its config.
func sendHUP(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }
