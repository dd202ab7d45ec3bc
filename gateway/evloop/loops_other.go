//go:build !linux

package gateway

import "errors"

// evLoops exist on Linux only; elsewhere every connection has goroutines.
type evLoops struct{}

func newEvLoops(int) (*evLoops, error) { return nil, errors.New("event loops need Linux epoll") }

func (*evLoops) close() {}

// evConn exists on Linux only.
type evConn struct{}

func (*evConn) abort() {}

// serveEvented is never called: without loops no route is served evented.
func (l *listener) serveEvented(*route) bool { return true }
