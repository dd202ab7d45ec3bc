package udprelay

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// BenchmarkRelayRoundTrip measures one client's datagram through the relay
// to an echo backend and back. allocs/op covers the whole path: the relay's
// read loop, its reply goroutine, the client and the echo.
func BenchmarkRelayRoundTrip(b *testing.B) {
	echo := startEcho(b, "127.0.0.1:0")
	r, _ := startRelay(b, Config{Backends: []string{echo}, MaxDatagram: 1472})
	c := dialClient(b, r.Addr())
	p := make([]byte, 64)
	buf := make([]byte, 2048)
	if _, ok := roundTrip(b, c, p, 2*time.Second); !ok {
		b.Fatal("no reply")
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(p); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "datagrams/s")
}

// BenchmarkSessionLookup is the read loop's per-datagram table lookup with
// 10000 sessions present.
func BenchmarkSessionLookup(b *testing.B) {
	r, err := newRelay(Config{Name: "bench", Backends: []string{"127.0.0.1:9"}}, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]netip.AddrPort, 10000)
	for i := range keys {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		keys[i] = netip.AddrPortFrom(a, uint16(1024+i))
		r.sessions[keys[i]] = &session{client: keys[i]}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r.lookup(keys[i%len(keys)]) == nil {
			b.Fatal("missing")
		}
	}
}
