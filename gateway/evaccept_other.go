//go:build !linux

package gateway

// serveEvented is never called: without loops no route is served evented.
func (l *listener) serveEvented(*route) bool { return true }
