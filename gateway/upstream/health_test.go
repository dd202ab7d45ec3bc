package upstream

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func zerologNop() zerolog.Logger { return zerolog.Nop() }

func TestCheckHealth(t *testing.T) {
	a := listen(t, "a")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bAddr := ln.Addr().String()
	ln.Close() // b is down at first
	var dialErrors counter
	bk := NewPools([]Config{{Name: "pool", Addresses: []string{a, bAddr}, ConnectTimeout: time.Second,
		HealthCheck: &HealthCheck{Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond}}}, nil,
		Hooks{DialErrors: func(string) Counter { return &dialErrors }}, nil)["pool"]
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { bk.CheckHealth(ctx, zerologNop()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	sa, sb := bk.Servers()[0], bk.Servers()[1]
	waitFor(t, func() bool { return sa.Up() && !sb.Up() }, "b marked down by the check")
	if !sb.State().DownUntil.IsZero() {
		t.Fatal("a server down by the check has a time it comes back")
	}
	// Every dial goes to a without a failed dial.
	for range 4 {
		name, s, c := who(t, bk)
		c.Close()
		s.Release()
		if name != "a" {
			t.Fatalf("served by %q, want a", name)
		}
	}
	if n := dialErrors.n.Load(); n != 0 {
		t.Fatalf("dial errors %d: the checked-down server should not be dialed", n)
	}
	// b comes up: the check notices.
	ln2, err := net.Listen("tcp", bAddr)
	if err != nil {
		t.Skipf("port taken meanwhile: %v", err)
	}
	defer ln2.Close()
	waitFor(t, sb.Up, "b marked up by the check")
}

func TestCheckHealthWithoutCheck(t *testing.T) {
	bk := New(Config{Name: "p", Addresses: []string{"127.0.0.1:1"}})
	bk.CheckHealth(context.Background(), zerologNop()) // returns at once
	if !bk.Servers()[0].Up() {
		t.Fatal("no check configured, yet the server is down")
	}
}
