package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/gateway/wire"
	"github.com/flashgate/flashgate/tlsterm/tlstest"
)

// Hostile clients: every stage before the relay has a deadline that a slow
// drip cannot stretch, floods and oversized input end the offending
// connection only, limits hold under bursts, and a client that never reads
// cannot make the gateway buffer.

// dripEvery is the pace of a slow-drip client: one byte per interval.
const dripEvery = 100 * time.Millisecond

// drip writes data to c one byte per every until it has written all of it,
// a write fails, or stop is closed. It returns how many bytes it wrote.
func drip(c net.Conn, data []byte, every time.Duration, stop <-chan struct{}) int {
	t := time.NewTicker(every)
	defer t.Stop()
	for i := range data {
		if _, err := c.Write(data[i : i+1]); err != nil {
			return i
		}
		select {
		case <-stop:
			return i + 1
		case <-t.C:
		}
	}
	return len(data)
}

// dripUntilClosed drips data at c (one byte per dripEvery) from a second
// goroutine and reads c until the gateway closes it. It returns what was
// read, how long after start the close came, and how many bytes had been
// dripped by then.
func dripUntilClosed(t *testing.T, c net.Conn, data []byte) (got []byte, after time.Duration, dripped int) {
	return dripUntilClosedAt(t, c, data, dripEvery)
}

func dripUntilClosedAt(t *testing.T, c net.Conn, data []byte, every time.Duration) (got []byte, after time.Duration, dripped int) {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(30 * time.Second))
	stop := make(chan struct{})
	n := make(chan int, 1)
	go func() { n <- drip(c, data, every, stop) }()
	got, err := io.ReadAll(c)
	after = time.Since(start)
	close(stop)
	if stream.IsTimeout(err) {
		t.Fatalf("connection still open after %v of dripping", after)
	}
	return got, after, <-n
}

// checkCutAt asserts a drip was cut at its deadline: not before it, not
// much after it (margin), and while the client was still sending.
func checkCutAt(t *testing.T, stage string, after, deadline, margin time.Duration, dripped, total int) {
	t.Helper()
	if after < deadline-50*time.Millisecond {
		t.Errorf("%s: closed after %v, before its deadline %v", stage, after, deadline)
	}
	if after > deadline+margin {
		t.Errorf("%s: closed after %v, deadline %v (+%v margin)", stage, after, deadline, margin)
	}
	if dripped >= total {
		t.Errorf("%s: the client sent all %d bytes before the close; the drip did not outlast the deadline", stage, total)
	}
}

func TestHostileSlowDrip(t *testing.T) {
	t.Run("policy request on a policy-only listener", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig()
		cfg.Listeners = []*config.Listener{testListener("master", "games", "")}
		gw, logs, _ := startGateway(t, cfg)
		c := dial(t, gw.Addr("master"))
		got, after, dripped := dripUntilClosed(t, c, policyRequest)
		if len(got) != 0 {
			t.Errorf("a dripped policy request got an answer: %q", got)
		}
		checkCutAt(t, "policy drip", after, 300*time.Millisecond, 2*time.Second, dripped, len(policyRequest))
		waitFor(t, func() bool { return strings.Contains(logs.String(), `"reason":"not a policy request"`) },
			"the drip's summary line")
	})

	t.Run("TLS handshake", func(t *testing.T) {
		t.Parallel()
		cfg, _ := tlsListenerConfig(t)
		cfg.Listeners[0].SniffTimeout = time.Second // the ClientHello's first 3 bytes arrive within it
		gw, logs, _ := startGateway(t, cfg, func(g *Gateway) { g.handshakeTimeout = 1500 * time.Millisecond })
		hello := captureClientHello(t)
		c := dial(t, gw.Addr("chat"))
		got, after, dripped := dripUntilClosed(t, c, hello)
		if len(got) != 0 {
			t.Errorf("the server answered a third of a ClientHello: %d bytes", len(got))
		}
		// Sniffing takes the first 3 bytes (~200 ms), then the handshake
		// deadline runs.
		checkCutAt(t, "TLS drip", after, 1500*time.Millisecond+2*dripEvery, 2*time.Second, dripped, len(hello))
		waitFor(t, func() bool { return strings.Contains(logs.String(), `"reason":"tls handshake failed"`) },
			"the drip's summary line")
	})

	t.Run("HTTP head", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig()
		cfg.Listeners = []*config.Listener{testListener("web", "games", "")}
		gw, logs, _ := startGateway(t, cfg)
		c := dial(t, gw.Addr("web"))
		// The request line at once (sniffing has its own, shorter
		// deadline), then the headers dripped.
		if _, err := c.Write([]byte("GET /crossdomain.xml HTTP/1.1\r\n")); err != nil {
			t.Fatal(err)
		}
		head := []byte("Host: 127.0.0.1\r\nX-Drip: " + strings.Repeat("a", 200) + "\r\n\r\n")
		got, after, dripped := dripUntilClosed(t, c, head)
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 408 ")) {
			t.Errorf("a dripped head got %q, want 408", got)
		}
		checkCutAt(t, "HTTP head drip", after, httpHeadTimeout, 3*time.Second, dripped, len(head))
		waitFor(t, func() bool { return strings.Contains(logs.String(), `"reason":"http 408: request head timeout"`) },
			"the drip's summary line")
	})

	// v1: up to 107 bytes through CRLF; v2: 16 fixed bytes, then the length.
	// v2's 28 bytes are dripped slower, so that neither completes in 3 s.
	for _, tc := range []struct {
		version string
		every   time.Duration
	}{{"v1", dripEvery}, {"v2", 250 * time.Millisecond}} {
		t.Run("PROXY header "+tc.version, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.Backends = []*config.Backend{{Name: "echo", Builtin: "echo"}}
			l := testListener("lb", "", "echo")
			l.ProxyProtocol = tc.version
			cfg.Listeners = []*config.Listener{l}
			gw, _, _ := startGateway(t, cfg)
			hdr := wire.AppendProxy(nil, tc.version, netip.MustParseAddrPort("203.0.113.7:51234"),
				netip.MustParseAddrPort("192.0.2.1:9000"))
			c := dial(t, gw.Addr("lb"))
			got, after, dripped := dripUntilClosedAt(t, c, hdr, tc.every)
			if len(got) != 0 {
				t.Errorf("got %q from a connection without a complete header", got)
			}
			checkCutAt(t, "PROXY "+tc.version+" drip", after, proxyHeaderTimeout, 2*time.Second, dripped, len(hdr))
			waitFor(t, func() bool { return gw.status().Listeners[0].Rejections[rejectProxyHeader] == 1 },
				"the rejection counted")
		})
	}
}

// TestHostileGarbageFlood: 2,000 connections of random bytes at a
// policy-only listener, 64 at a time. Every one is closed by the gateway,
// real policy requests are answered all the while, and afterwards no
// connection is left and the goroutines are back to their baseline.
func TestHostileGarbageFlood(t *testing.T) {
	cfg := testConfig()
	cfg.Listeners = []*config.Listener{testListener("master", "games", "")}
	gw, _, _ := startGateway(t, cfg)
	addr := gw.Addr("master").String()
	want := testPolicy.SocketAnswer()
	// policyOnce asks for the policy; late reports a request that reached
	// the gateway more than sniff_timeout after the dial began (a client
	// stalled by a loaded machine), which the gateway may rightly have
	// closed unanswered, as sniff timeout.
	sniff := cfg.Listeners[0].SniffTimeout
	policyOnceLate := func() (late bool, err error) {
		begin := time.Now()
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return false, err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(policyRequest); err != nil {
			return false, err
		}
		late = time.Since(begin) >= sniff
		got, err := io.ReadAll(c)
		if err != nil {
			return late, err
		}
		if !bytes.Equal(got, want) {
			return late, fmt.Errorf("answer %q", got)
		}
		return late, nil
	}
	policyOnce := func() error {
		late, err := policyOnceLate()
		if err != nil && late {
			err = fmt.Errorf("%w (late: asked over %v after the dial began)", err, sniff)
		}
		return err
	}
	if err := policyOnce(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	baseline := runtime.NumGoroutine()

	const total, parallel = 2000, 64
	var next, hung, dialErrs atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(60 * time.Second) // the whole flood is bounded
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			junk := make([]byte, 256)
			for next.Add(1) <= total && time.Now().Before(deadline) {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					dialErrs.Add(1)
					continue
				}
				_, _ = rand.Read(junk)
				junk[0] = 'a' + junk[0]%26 // data, not a policy request prefix
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				_, _ = c.Write(junk[:1+int(junk[1])])
				_, err = io.Copy(io.Discard, c)
				if stream.IsTimeout(err) {
					hung.Add(1)
				}
				c.Close()
			}
		}()
	}
	// Real requests during the flood.
	floodDone := make(chan struct{})
	var served, failed, cut atomic.Int64
	var firstErr atomic.Pointer[string]
	go func() {
		defer close(floodDone)
		for next.Load() <= total && time.Now().Before(deadline) {
			late, err := policyOnceLate()
			switch {
			case err != nil && late && strings.HasPrefix(err.Error(), `answer ""`):
				cut.Add(1) // closed at sniff_timeout before the request came: right
			case err != nil:
				failed.Add(1)
				s := err.Error()
				firstErr.CompareAndSwap(nil, &s)
			default:
				served.Add(1)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	wg.Wait()
	<-floodDone
	if time.Now().After(deadline) {
		t.Fatalf("the flood did not finish within its bound (%d of %d sent)", min(next.Load(), total), total)
	}
	if n := hung.Load(); n > 0 {
		t.Errorf("%d garbage connections were left open for 10 s", n)
	}
	if n := dialErrs.Load(); n > 0 {
		t.Errorf("%d dials failed during the flood", n)
	}
	// Every request that came within sniff_timeout is answered; one whose
	// client stalled longer may be cut, but some request must have been
	// asked at all.
	if served.Load()+cut.Load() == 0 || failed.Load() > 0 {
		e := ""
		if p := firstErr.Load(); p != nil {
			e = *p
		}
		t.Errorf("policy requests during the flood: %d served, %d cut late, %d failed (%s)",
			served.Load(), cut.Load(), failed.Load(), e)
	}
	waitFor(t, func() bool { return gw.status().Listeners[0].Active == 0 }, "no connection left open")
	waitFor(t, func() bool { return runtime.NumGoroutine() <= baseline+2 },
		fmt.Sprintf("goroutines back to the baseline of %d (now %d)", baseline, runtime.NumGoroutine()))
	if err := policyOnce(); err != nil {
		t.Fatalf("after the flood: %v", err)
	}
}

// TestHostileOversized: input over every size bound ends that connection,
// with the bound's answer where there is one; others are unaffected.
func TestHostileOversized(t *testing.T) {
	t.Run("policy request longer than expected", func(t *testing.T) {
		cfg := testConfig()
		cfg.Listeners = []*config.Listener{testListener("master", "games", "")}
		gw, logs, _ := startGateway(t, cfg)
		c := dial(t, gw.Addr("master"))
		// The right start, then far too much: decided as data at the first
		// byte that differs, never buffered further.
		long := append([]byte("<policy-file-request"), bytes.Repeat([]byte("A"), 64<<10)...)
		start := time.Now()
		go c.Write(long)
		got, _ := io.ReadAll(c)
		if len(got) != 0 {
			t.Errorf("answered %q", got)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("closed after %v: the gateway did not decide on the prefix", d)
		}
		waitFor(t, func() bool { return strings.Contains(logs.String(), `"reason":"not a policy request"`) }, "summary")
		if strings.Contains(logs.String(), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") {
			t.Error("client bytes in the log")
		}
	})

	t.Run("HTTP head over 8 KiB", func(t *testing.T) {
		cfg := testConfig()
		cfg.Listeners = []*config.Listener{testListener("web", "games", "")}
		gw, logs, _ := startGateway(t, cfg)
		c := dial(t, gw.Addr("web"))
		// Exactly maxHTTPHead bytes and no end of head: all of it is read,
		// so the close that follows the 431 is a FIN, not a reset.
		head := "GET /crossdomain.xml HTTP/1.1\r\nX-Big: "
		head += strings.Repeat("b", maxHTTPHead-len(head))
		if _, err := c.Write([]byte(head)); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(c)
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 431 ")) {
			t.Fatalf("got %q, want 431", got)
		}
		waitFor(t, func() bool { return strings.Contains(logs.String(), `"status":431`) }, "summary")
		if strings.Contains(logs.String(), strings.Repeat("b", 200)) {
			t.Error("the oversized header's bytes reached the log")
		}
		// The listener still serves.
		c2 := dial(t, gw.Addr("web"))
		c2.Write([]byte("GET /crossdomain.xml HTTP/1.1\r\n\r\n"))
		if got, _ := io.ReadAll(c2); !bytes.HasPrefix(got, []byte("HTTP/1.1 200 ")) {
			t.Fatalf("next request: %q", got)
		}
	})

	t.Run("XML message streamed past max_message", func(t *testing.T) {
		var received atomic.Int64
		backend := startBackend(t, func(c *net.TCPConn) {
			n, _ := io.Copy(io.Discard, c)
			received.Add(n)
		})
		const maxMsg = 64 << 10
		gw, logs, _ := startGateway(t, xmlConfig(backend, "nul", maxMsg))
		good := dial(t, gw.Addr("xml"))
		if _, err := good.Write([]byte("<ok/>\x00")); err != nil {
			t.Fatal(err)
		}
		bad := dial(t, gw.Addr("xml"))
		// One endless message: 16 MiB without a NUL.
		var sent int64
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		_ = bad.SetWriteDeadline(time.Now().Add(10 * time.Second))
		for sent < 16<<20 {
			n, err := bad.Write(chunk)
			sent += int64(n)
			if err != nil {
				break
			}
		}
		if sent >= 16<<20 {
			t.Errorf("the gateway accepted all %d bytes of one oversized message", sent)
		}
		_ = bad.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(bad); stream.IsTimeout(err) {
			t.Fatal("the oversized connection stayed open")
		}
		// Backend side: at most max_message plus one read buffer got through.
		waitFor(t, func() bool { return strings.Contains(logs.String(), "client message over max_message") }, "summary")
		if n := received.Load(); n > maxMsg+stream.BufSize+int64(len("<ok/>\x00")) {
			t.Errorf("the backend got %d bytes of an oversized message (max_message %d)", n, maxMsg)
		}
		// The other connection is unaffected.
		if _, err := good.Write([]byte("<still/>\x00")); err != nil {
			t.Fatalf("other connection: %v", err)
		}
		good.CloseWrite()
		waitFor(t, func() bool {
			return strings.Count(logs.String(), `"reason":"client closed"`) == 1
		}, "the other connection ends normally")
	})

	t.Run("UDP datagrams over max_datagram", func(t *testing.T) {
		echo := startUDPEcho(t)
		cfg := udpConfigFor(echo)
		gw, _, _ := startGateway(t, cfg)
		addr := gw.UDPAddr("voice").(*net.UDPAddr)
		hostile, err := net.DialUDP("udp", nil, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer hostile.Close()
		good, err := net.DialUDP("udp", nil, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer good.Close()
		const floods = 200
		big := make([]byte, 16000)
		sent := 0
		for i := range floods {
			if _, err := hostile.Write(big[:1473+i*40]); err == nil {
				sent++
			}
			if i%10 == 0 { // the relay has read all before: no kernel drop
				udpRoundTrip(t, good, fmt.Sprintf("good %d", i))
			}
		}
		udpRoundTrip(t, hostile, "small from the same client")
		// Nothing oversized came back.
		_ = hostile.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		if n, err := hostile.Read(make([]byte, 65536)); err == nil {
			t.Errorf("got a %d-byte datagram back after the oversized ones", n)
		}
		waitFor(t, func() bool {
			return counterValue(gw.metrics.udpDrops.WithLabelValues("voice", "max_datagram")) == uint64(sent)
		}, fmt.Sprintf("%d oversize drops counted", sent))
	})
}

// TestHostileBursts: a burst of simultaneous connections past
// max_connections and max_connections_per_ip: exactly the limit is served,
// the rest are rejected and counted, and once the served ones close new
// connections are served again.
func TestHostileBursts(t *testing.T) {
	backend := startBackend(t, echoHandler)
	for _, tc := range []struct {
		name          string
		total, perIP  int
		limit, burst  int
		reason        string
		besideAllowed string // another source address served during the burst
	}{
		{"max_connections", 10, 0, 10, 60, rejectMaxConns, ""},
		{"max_connections_per_ip", 0, 5, 5, 40, rejectMaxPerIP, "127.0.0.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Backends = []*config.Backend{{Name: "echo", Address: []string{backend}, ConnectTimeout: time.Second}}
			l := testListener("chat", "", "echo")
			l.MaxConnections, l.MaxConnectionsPerIP = tc.total, tc.perIP
			cfg.Listeners = []*config.Listener{l}
			gw, _, _ := startGateway(t, cfg)
			addr := gw.Addr("chat").String()
			var served, refused atomic.Int64
			release := make(chan struct{})
			var wg sync.WaitGroup
			var ready sync.WaitGroup
			for range tc.burst {
				wg.Add(1)
				ready.Add(1)
				go func() {
					defer wg.Done()
					d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}, Timeout: 5 * time.Second}
					c, err := d.Dial("tcp", addr)
					if err != nil {
						refused.Add(1)
						ready.Done()
						return
					}
					defer c.Close()
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					_, err = c.Write([]byte("ping"))
					if err == nil {
						_, err = io.ReadFull(c, make([]byte, 4))
					}
					ready.Done()
					if err != nil {
						refused.Add(1)
						return
					}
					served.Add(1)
					<-release // hold the slot until the whole burst is decided
				}()
			}
			ready.Wait()
			if tc.besideAllowed != "" {
				d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.besideAllowed)}, Timeout: 5 * time.Second}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write([]byte("ping"))
				if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
					t.Errorf("%s during the burst: %v", tc.besideAllowed, err)
				}
				c.Close()
			}
			close(release)
			wg.Wait()
			if served.Load() != int64(tc.limit) || refused.Load() != int64(tc.burst-tc.limit) {
				t.Errorf("burst of %d: %d served, %d refused; want %d served", tc.burst, served.Load(), refused.Load(), tc.limit)
			}
			waitFor(t, func() bool {
				return gw.status().Listeners[0].Rejections[tc.reason] == uint64(tc.burst-tc.limit)
			}, "every rejection counted")
			waitFor(t, func() bool { return gw.status().Listeners[0].Active == 0 }, "slots released")
			for i := range tc.limit {
				c := dial(t, gw.Addr("chat"))
				c.Write([]byte("pong"))
				if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
					t.Fatalf("after the burst, connection %d: %v", i, err)
				}
			}
		})
	}
}

// heapInuse returns the heap in use after a collection: what is really
// held, not garbage.
func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// pushUntilBlocked writes 64 MiB to c (from one reused 1 MiB buffer) until
// the writes stall for 500 ms or all is written. It returns the bytes
// written.
func pushUntilBlocked(c net.Conn) int64 {
	buf := make([]byte, 1<<20)
	var written int64
	for written < 64<<20 {
		_ = c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Write(buf)
		written += int64(n)
		if err != nil {
			break
		}
	}
	return written
}

// checkNoBuffering runs a relay whose receiving peer never reads while the
// sending peer pushes 64 MiB, and asserts the sender got blocked and the
// gateway's heap grew by less than 4 MiB.
func checkNoBuffering(t *testing.T, written int64, before, after uint64) {
	t.Helper()
	if written >= 64<<20 {
		t.Errorf("all 64 MiB were written: nothing blocked the sender")
	}
	grew := int64(after) - int64(before)
	t.Logf("sender blocked after %d MiB; heap in use %d → %d KiB", written>>20, before>>10, after>>10)
	if grew > 4<<20 {
		t.Errorf("heap grew by %d KiB while %d MiB were pushed at a peer that never reads", grew>>10, written>>20)
	}
}

// TestHostileClientNeverReads: the backend writes as fast as it can to a
// client that never reads; the relay holds no more than its fixed buffers,
// binary (splice) and xml alike, and so does the WebSocket-free TLS path.
func TestHostileClientNeverReads(t *testing.T) {
	for _, proto := range []string{"binary", "xml"} {
		t.Run(proto, func(t *testing.T) {
			wrote := make(chan int64, 1)
			backend := startBackend(t, func(c *net.TCPConn) {
				if _, err := io.ReadFull(c, make([]byte, 6)); err != nil {
					wrote <- -1
					return
				}
				if proto == "xml" {
					// Small NUL-framed messages: the framer sees every byte.
					buf := bytes.Repeat([]byte("<m>"+strings.Repeat("y", 1000)+"</m>\x00"), 1024)
					var n int64
					for n < 64<<20 {
						_ = c.SetWriteDeadline(time.Now().Add(500 * time.Millisecond))
						m, err := c.Write(buf)
						n += int64(m)
						if err != nil {
							break
						}
					}
					wrote <- n
					return
				}
				wrote <- pushUntilBlocked(c)
			})
			cfg := xmlConfig(backend, "nul", 1<<20)
			cfg.Listeners[0].Protocol = proto
			gw, _, _ := startGateway(t, cfg)
			before := heapInuse()
			c := dial(t, gw.Addr("xml"))
			if _, err := c.Write([]byte("<go/>\x00")); err != nil {
				t.Fatal(err)
			}
			var n int64
			select {
			case n = <-wrote:
			case <-time.After(30 * time.Second):
				t.Fatal("the backend never blocked")
			}
			after := heapInuse()
			checkNoBuffering(t, n, before, after)
			// The connection still works once the client reads.
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, make([]byte, 1<<20)); err != nil {
				t.Errorf("the client could not read what was queued: %v", err)
			}
		})
	}
}

// TestHostileTLSClientNeverReads: the same through TLS termination, where
// the relay copies through a buffer instead of splicing.
func TestHostileTLSClientNeverReads(t *testing.T) {
	wrote := make(chan int64, 1)
	backend := startBackend(t, func(c *net.TCPConn) {
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			wrote <- -1
			return
		}
		wrote <- pushUntilBlocked(c)
	})
	ca := tlstest.NewCert(t, "Test Root", true, nil)
	leaf := tlstest.NewCert(t, "chat.example.com", false, ca, tlstest.DNSNames("chat.example.com"))
	certFile, keyFile := tlstest.WritePair(t, t.TempDir(), "chat", leaf, ca)
	cfg := testConfig()
	cfg.Backends = []*config.Backend{{Name: "b", Address: []string{backend}, ConnectTimeout: time.Second}}
	l := testListener("tls", "", "b")
	l.TLS = &config.ListenerTLS{CertFile: certFile, KeyFile: keyFile, MinVersion: "1.2"}
	cfg.Listeners = []*config.Listener{l}
	gw, _, _ := startGateway(t, cfg)
	before := heapInuse()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", gw.Addr("tls").String(),
		&tls.Config{RootCAs: tlstest.Pool(ca), ServerName: "chat.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	var n int64
	select {
	case n = <-wrote:
	case <-time.After(30 * time.Second):
		t.Fatal("the backend never blocked")
	}
	checkNoBuffering(t, n, before, heapInuse())
}

// TestHostileLogsBounded: client bytes that reach the summary line (Origin
// host, request path, parse errors quoting a header line) are capped, so a
// client cannot write kilobytes into the log per connection.
func TestHostileLogsBounded(t *testing.T) {
	backend := startBackend(t, echoHandler)
	cfg := httpConfig(backend)
	cfg.Listeners = append(cfg.Listeners, testListener("web", "games", ""))
	gw, logs, stop := startGateway(t, cfg)
	long := strings.Repeat("a", 7000)
	for _, tc := range []struct{ listener, head, status string }{
		{"mux", "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://" + long + ".example\r\n\r\n", "403"},
		{"mux", "GET /" + long + " HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", "404"},
		{"web", "GET /crossdomain.xml HTTP/1.1\r\nbad header line " + long + "\r\n\r\n", "400"},
	} {
		c := dial(t, gw.Addr(tc.listener))
		if _, err := c.Write([]byte(tc.head)); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(c)
		if !bytes.HasPrefix(got, []byte("HTTP/1.1 "+tc.status+" ")) {
			t.Errorf("got %.40q, want %s", got, tc.status)
		}
	}
	stop()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	closed := 0
	for _, l := range lines {
		if strings.Contains(l, "connection closed") {
			closed++
		}
		if len(l) > 1500 {
			t.Errorf("a log line of %d bytes: %.300s…", len(l), l)
		}
	}
	if closed != 3 {
		t.Errorf("%d summary lines, want 3", closed)
	}
}

// TestAdminOpenAddressWarns: an admin endpoint off loopback without a
// token is allowed (behind a firewall it may be meant) but warned about.
func TestAdminOpenAddressWarns(t *testing.T) {
	for _, tc := range []struct {
		admin string
		warn  bool
	}{
		{"admin {\n  address = \"0.0.0.0:9843\"\n}\n", true},
		{"admin {\n  address = \"[::]:9843\"\n  token = \"s3cret\"\n}\n", false},
		{"admin {\n  address = \"127.0.0.1:9843\"\n}\n", false},
		{"admin {\n  address = \"[::1]:9843\"\n}\n", false},
		{"admin {\n}\n", false}, // the default is loopback
	} {
		cfg, err := config.Parse([]byte(tc.admin), filepath.Join(t.TempDir(), "a.hcl"))
		if err != nil {
			t.Fatalf("%q: %v", tc.admin, err)
		}
		got := strings.Contains(strings.Join(cfg.Warnings, "\n"), "not loopback and has no token")
		if got != tc.warn {
			t.Errorf("%q: warning %v, want %v (%q)", tc.admin, got, tc.warn, cfg.Warnings)
		}
	}
}
