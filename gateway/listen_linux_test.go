package gateway

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestAcceptedSocketsInheritKeepalive checks the premise of listenTCP: the
// keepalive set once on the listening socket holds on accepted sockets.
func TestAcceptedSocketsInheritKeepalive(t *testing.T) {
	ln, err := listenTCP(context.Background(), "127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rc, _ := s.SyscallConn()
	got := map[string]int{}
	rc.Control(func(fd uintptr) {
		got["SO_KEEPALIVE"], _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		got["TCP_KEEPIDLE"], _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
		got["TCP_KEEPINTVL"], _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPINTVL)
		got["TCP_KEEPCNT"], _ = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPCNT)
	})
	want := map[string]int{"SO_KEEPALIVE": 1, "TCP_KEEPIDLE": int(keepAliveIdle / time.Second),
		"TCP_KEEPINTVL": int(keepAliveInterval / time.Second), "TCP_KEEPCNT": keepAliveCount}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("accepted socket %s = %d, want %d", k, got[k], v)
		}
	}
}
