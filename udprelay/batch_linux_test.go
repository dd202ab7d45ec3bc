package udprelay

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// The listener's batches read source addresses from raw socket addresses and
// write replies to them: both ways must give back what the net package
// would (ReadFromUDPAddrPort keeps v4-mapped addresses in 16 bytes).
func TestSockaddrRoundTrip(t *testing.T) {
	for _, s := range []string{
		"127.0.0.1:5000",
		"[::1]:65535",
		"[::ffff:127.0.0.1]:1",
		"[2001:db8::7]:843",
		"[fe80::1%lo]:9000",
		"[fe80::1%4242]:9000", // no such interface: the index is the name
	} {
		ap := netip.MustParseAddrPort(s)
		var sa unix.RawSockaddrInet6
		n := putSockaddr(&sa, ap)
		want := uint32(unix.SizeofSockaddrInet6)
		if ap.Addr().Is4() {
			want = unix.SizeofSockaddrInet4
		}
		if n != want {
			t.Errorf("%s: length %d, want %d", s, n, want)
		}
		got, ok := sockaddrAddrPort(&sa)
		if !ok || got != ap {
			t.Errorf("%s: back as %s (ok %v)", s, got, ok)
		}
	}
	var sa unix.RawSockaddrInet6
	sa.Family = unix.AF_UNIX
	if _, ok := sockaddrAddrPort(&sa); ok {
		t.Error("an AF_UNIX address read as IP")
	}
}
