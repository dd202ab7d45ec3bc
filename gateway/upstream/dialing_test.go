package upstream

import (
	"errors"
	"io"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

// TestDialingByAddress: the walk a non-blocking dialer makes. A host name's
// addresses are tried in order; the server is marked down, counted and
// re-resolved only once all of them failed; a server without addresses
// fails at once.
func TestDialingByAddress(t *testing.T) {
	var dialErrors counter
	bk := NewPools([]Config{{Name: "p", Addresses: []string{"a.test:1", "b.test:2", "127.0.0.1:3"}}}, nil,
		Hooks{DialErrors: func(string) Counter { return &dialErrors }}, nil)["p"]
	named, unresolved, lit := bk.Servers()[0], bk.Servers()[1], bk.Servers()[2]
	named.SetResolved([]netip.AddrPort{netip.MustParseAddrPort("127.0.0.7:1"), netip.MustParseAddrPort("127.0.0.8:1")})
	bk.next.Store(0)

	d := bk.StartDial()
	refused := syscall.ECONNREFUSED
	var tried []string
	for {
		s, ap, ok := d.NextAddr()
		if !ok {
			break
		}
		tried = append(tried, s.Addr()+"="+ap.String())
		if s == named {
			if !named.Up() || dialErrors.n.Load() != 0 {
				t.Fatal("the server was marked down before all its addresses failed")
			}
		}
		if s == lit {
			if named.Up() || unresolved.Up() || dialErrors.n.Load() != 2 {
				t.Fatalf("after two failed servers: up %v %v, errors %d", named.Up(), unresolved.Up(), dialErrors.n.Load())
			}
			if len(bk.refresh) != 1 {
				t.Fatal("a failed host name did not ask for a lookup")
			}
			if got := d.Connected(); got != lit || lit.Active() != 1 {
				t.Fatalf("connected to %v, active %d", got, lit.Active())
			}
			break
		}
		d.Failed(refused)
	}
	want := "a.test:1=127.0.0.7:1 a.test:1=127.0.0.8:1 127.0.0.1:3=127.0.0.1:3"
	if got := strings.Join(tried, " "); got != want {
		t.Fatalf("tried %s, want %s", got, want)
	}
	if st := unresolved.State(); !strings.Contains(st.LastError, "no address resolved") {
		t.Fatalf("unresolved server: %+v", st)
	}
	if st := named.State(); !strings.Contains(st.LastError, "127.0.0.8:1") {
		t.Fatalf("named server's error does not name the address: %+v", st)
	}
	if _, _, ok := d.NextAddr(); ok {
		t.Fatal("a connected dial goes on")
	}
	lit.Release()
}

// TestDialingErr: a walk that reached nothing names every attempt.
func TestDialingErr(t *testing.T) {
	bk := New(Config{Name: "p", Addresses: []string{"127.0.0.1:1", "[::1]:2"}})
	d := bk.StartDial()
	for {
		_, _, ok := d.NextAddr()
		if !ok {
			break
		}
		d.Failed(io.EOF)
	}
	err := d.Err()
	if !errors.Is(err, ErrNoBackend) || !errors.Is(err, io.EOF) ||
		!strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "[::1]:2") ||
		!strings.HasPrefix(err.Error(), `backend "p": `) {
		t.Fatalf("err %v", err)
	}
	if bk.Servers()[0].Up() || bk.Servers()[1].Up() {
		t.Fatal("failed servers are up")
	}
}

// TestDialingStop: a stopped walk blames and counts nothing.
func TestDialingStop(t *testing.T) {
	var dialErrors counter
	bk := NewPools([]Config{{Name: "p", Addresses: []string{"127.0.0.1:1", "127.0.0.1:2"}}}, nil,
		Hooks{DialErrors: func(string) Counter { return &dialErrors }}, nil)["p"]
	d := bk.StartDial()
	if _, ok := d.Next(); !ok {
		t.Fatal("no server")
	}
	d.Stop(errors.New("shutting down"))
	if _, ok := d.Next(); ok {
		t.Fatal("a stopped dial goes on")
	}
	if !bk.Servers()[0].Up() || dialErrors.n.Load() != 0 || !strings.Contains(d.Err().Error(), "shutting down") {
		t.Fatalf("stop: up %v, errors %d, err %v", bk.Servers()[0].Up(), dialErrors.n.Load(), d.Err())
	}
}
