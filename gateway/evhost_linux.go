package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/flashgate/flashgate/gateway/evloop"
	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/gateway/upstream"
	"github.com/flashgate/flashgate/gateway/wire"
)

// evHost is a conn relayed by an event loop, as the loop sees it
// (evloop.Host): the listener's settings, the routing of what the loop
// sniffed, admission after a PROXY header, the backend's dial and the
// summary line. It is the conn itself under another method set, so it
// costs no allocation.
type evHost conn

var _ evloop.Host = (*evHost)(nil)

func (eh *evHost) conn() *conn { return (*conn)(eh) }

// Settings implements evloop.Host.
func (eh *evHost) Settings() evloop.Settings {
	h := eh.conn()
	cfg := h.rt.cfg
	return evloop.Settings{Start: h.start, IdleTimeout: cfg.IdleTimeout, SniffTimeout: cfg.SniffTimeout,
		Transparent: h.rt.transparent(), ProxyIn: cfg.ProxyProtocol, ProxyTimeout: proxyHeaderTimeout,
		SniffBuf: h.buf[:]}
}

// Decide routes a sniffed connection as conn.dispatch does.
func (eh *evHost) Decide(kind wire.Kind, _ []byte) evloop.Decision {
	rt := eh.rt
	switch {
	case kind == wire.KindTLS && rt.tls != nil, kind == wire.KindHTTP && rt.policyAnswer != nil:
		return evloop.Decision{Action: evloop.HandOver}
	case kind == wire.KindPolicy && rt.policyAnswer != nil:
		return evloop.Decision{Action: evloop.Answer, Answer: rt.policyAnswer}
	case rt.backend == nil: // policy only: nothing else is served here
		reason := evloop.ReasonNotPolicy
		if kind == wire.KindSilent || kind == wire.KindUnknown {
			reason = evloop.ReasonNoPolicyInSniff
		}
		return evloop.Decision{Action: evloop.Close, Reason: reason}
	}
	// TLS passed through and HTTP without a policy are relayed unframed.
	d := evloop.Decision{Action: evloop.ToBackend}
	if rt.cfg.Protocol == "xml" && kind != wire.KindTLS && kind != wire.KindHTTP {
		d.Framed = true
		d.Up, d.Down = wire.XMLModes(rt.backend.cfg.Framing)
		d.MaxMessage = rt.cfg.MaxMessage
	}
	return d
}

// AdmitProxied applies a PROXY header as conn.proxyHeader does.
func (eh *evHost) AdmitProxied(hdr wire.ProxyHeader) string {
	h := eh.conn()
	if !hdr.Local {
		h.client = netip.AddrPortFrom(hdr.Src.Addr().Unmap(), hdr.Src.Port())
		h.local = netip.AddrPortFrom(hdr.Dst.Addr().Unmap(), hdr.Dst.Port())
	}
	if !h.l.admitIP(h.rt.cfg, h.client.Addr()) {
		return rejectMaxPerIP
	}
	if h.rt.cfg.MaxConnectionsPerIP > 0 {
		h.ipCounted = h.client.Addr().Unmap()
	}
	return ""
}

// Reject ends a connection refused after its PROXY header, as
// listener.reject does: a reset, counted and logged at a bounded rate, no
// summary line.
func (eh *evHost) Reject(fd int, reason string, err error) {
	h := eh.conn()
	if reason == "" {
		reason = rejectProxyHeader
	}
	h.l.rejected(h.client, reason, err, func() { resetClose(fd) })
	h.done()
}

// Addrs implements evloop.Host.
func (eh *evHost) Addrs() (client, local netip.AddrPort) { return eh.client, eh.local }

// Dialer implements evloop.Host: the route's backend, walked by
// upstream.Dialing.
func (eh *evHost) Dialer() evloop.Dialer { return &evDialer{h: eh.conn(), b: eh.rt.backend} }

// PolicyServed implements evloop.Host.
func (eh *evHost) PolicyServed() { eh.gw.policyServed(eh.l) }

// HandOver makes the client socket a Go connection and runs it on from the
// sniffed bytes on a goroutine (conn.serveSniffed).
func (eh *evHost) HandOver(fd int, sniffed int, kind wire.Kind) {
	h := eh.conn()
	f := os.NewFile(uintptr(fd), "client")
	c, err := net.FileConn(f) // a duplicate in the Go poller
	f.Close()
	if err != nil {
		h.finish(summary{kind: kind, res: stream.Result{Reason: stream.ReasonClientError, Err: fmt.Errorf("hand over: %w", err)}})
		return
	}
	tc := c.(*net.TCPConn)
	h.mu.Lock()
	h.ev = nil
	h.c, h.cc = tc, tc
	closing := h.closing
	h.mu.Unlock()
	if closing != "" {
		tc.Close() // shutdown came first: the Go path ends at once with its reason
	}
	go h.serveSniffed(sniffed, kind)
}

// Finish logs the connection's summary line (conn.finish).
func (eh *evHost) Finish(s evloop.Summary) {
	h := eh.conn()
	if s.Err == evloop.ErrIdle {
		s.Err = stream.ErrIdle // logged at info level, as on the Go path
	}
	sum := summary{kind: s.Kind, res: stream.Result{Up: s.Up, Down: s.Down, Spliced: s.Spliced, Reason: s.Reason, Err: s.Err}}
	if h.srv != nil {
		sum.backend = h.srv.addr
	}
	if s.Framed {
		sum.ext.proto = "xml"
		sum.ext.msgsUp, sum.ext.msgsDown = s.MsgsUp, s.MsgsDown
	}
	h.finish(sum)
}

// evDialer is one evented connection's way to its backend
// (evloop.Dialer), over upstream.Dialing.
type evDialer struct {
	h *conn
	b *backend
	d upstream.Dialing
}

func (d *evDialer) Resolved() bool                { return d.b.Resolved() }
func (d *evDialer) ConnectTimeout() time.Duration { return d.b.Timeout() }
func (d *evDialer) ProxyOut() string              { return d.b.cfg.ProxyProtocol }
func (d *evDialer) Start()                        { d.d = d.b.StartDial() }
func (d *evDialer) Failed(err error)              { d.d.Failed(err) }
func (d *evDialer) Err() error                    { return d.d.Err() }

// NextAddr implements evloop.Dialer.
func (d *evDialer) NextAddr() (netip.AddrPort, bool) {
	_, ap, ok := d.d.NextAddr()
	return ap, ok
}

// Connected records the server for the summary and releases it when the
// connection ends (conn.finish).
func (d *evDialer) Connected() { d.h.srv = d.b.wrap(d.d.Connected()) }

// Unresolved is the error of a backend whose host names were not resolved
// within connect_timeout.
func (d *evDialer) Unresolved() error {
	var errs []error
	for _, s := range d.b.servers {
		if len(s.addrs()) == 0 {
			errs = append(errs, fmt.Errorf("dial backend %s: host name not resolved within connect_timeout", s.addr))
		}
	}
	return fmt.Errorf("backend %q: %w: %w", d.b.cfg.Name, ErrNoBackend, errors.Join(errs...))
}
