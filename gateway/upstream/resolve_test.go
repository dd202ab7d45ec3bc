package upstream

import (
	"context"
	"errors"
	"net"
	"testing"
)

// hostsOnly resolves through /etc/hosts only: no query leaves the machine.
func hostsOnly() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in tests")
	}}
}

func TestResolveServers(t *testing.T) {
	bk := NewPools([]Config{{Name: "p", Addresses: []string{"localhost:7", "127.0.0.1:8"}}}, nil, Hooks{}, hostsOnly())["p"]
	if bk.Resolved() || !bk.Resolvable() {
		t.Fatalf("before the lookup: resolved %v resolvable %v", bk.Resolved(), bk.Resolvable())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { bk.ResolveServers(ctx, zerologNop()); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, bk.Resolved, "localhost resolved")
	for _, ap := range bk.Servers()[0].Addrs() {
		if !ap.Addr().IsLoopback() || ap.Port() != 7 {
			t.Fatalf("localhost resolved to %v", bk.Servers()[0].Addrs())
		}
	}
	// ResolveSoon never blocks, however often it is called.
	for range 3 {
		bk.ResolveSoon()
	}
}

func TestResolveServersWithoutNames(t *testing.T) {
	bk := New(Config{Name: "p", Addresses: []string{"127.0.0.1:8"}})
	bk.ResolveServers(context.Background(), zerologNop()) // returns at once: nothing to resolve
	if !bk.Resolved() {
		t.Fatal("an IP literal is not resolved")
	}
	if New(Config{Name: "s", Addresses: []string{"localhost:echo"}}).Resolvable() {
		t.Fatal("a service-name port is resolvable without blocking")
	}
}
