package gateway

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/flashgate/flashgate/gateway/evloop"
	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/gateway/wire"
	"github.com/rs/zerolog"
)

// conn is one accepted client connection, from sniffing to its summary line.
type conn struct {
	gw     *Gateway
	l      *listener
	rt     *route
	c      *net.TCPConn // the socket
	cc     net.Conn     // the client stream: c, or the TLS stream over it once terminated
	client netip.AddrPort
	id     uint64
	start  time.Time

	local      netip.AddrPort // the address the client connected to (from a PROXY header, if any)
	ipCounted  netip.Addr     // counted against max_connections_per_ip, or zero
	sniffStart time.Time      // sniff_timeout counts from here (after a PROXY header)
	tlsOn      bool           // TLS terminated here
	tlsVersion uint16         // negotiated, when tlsOn
	tlsCipher  uint16         // negotiated, when tlsOn
	backendTLS string         // the backend's CertificateStatus, when it speaks TLS

	srv *server // the backend server dialed, released when the connection ends

	mu       sync.Mutex
	backendC net.Conn     // set while relaying, for shutdown
	ev       *evloop.Conn // set when an event loop relays the connection (c is nil then)
	closing  string       // reason forced by shutdown
	buf      [wire.MaxSniff]byte
}

// summary is what the close line reports.
type summary struct {
	kind    wire.Kind
	backend string
	res     stream.Result
	ext     extSummary // http, websocket and xml details (http.go)
}

// serve sniffs the connection, routes it and logs one summary line.
func (h *conn) serve() {
	if !h.proxyHeader() {
		h.done()
		return
	}
	h.finish(h.route())
}

// done releases the connection's limits and tracking.
func (h *conn) done() {
	h.l.release(h)
	h.gw.untrack(h)
}

// finish closes the connection and reports it: metrics and the summary line.
func (h *conn) finish(s summary) {
	defer h.done()
	if h.srv != nil {
		h.srv.release()
	}
	if h.c != nil {
		h.cc.Close()
		h.c.Close()
	}
	h.mu.Lock()
	closing := h.closing
	h.mu.Unlock()
	if closing != "" && (s.res.Reason == "" || s.res.Err != nil) {
		s.res.Reason, s.res.Err = closing, nil
	}
	h.l.metrics.connection(s.kind, s.res.Up, s.res.Down)
	h.logSummary(s)
}

// route decides what the connection is and runs it to its end.
func (h *conn) route() summary {
	cfg := h.rt.cfg
	if h.rt.transparent() {
		// Nothing to decide: dial at once, as a plain TCP proxy does. The
		// backend's connect overlaps the client's first bytes, and a
		// backend that speaks first greets without sniff_timeout's delay.
		return h.toBackend(summary{kind: wire.KindRaw}, nil)
	}
	n, kind, err := h.sniff(cfg.SniffTimeout)
	if err != nil {
		return summary{kind: kind, res: stream.Result{Reason: endReason("client", err), Err: err}}
	}
	return h.dispatch(n, kind)
}

// serveSniffed runs a connection an event loop sniffed and handed over
// (TLS to terminate, HTTP to serve) to its end, like serve.
func (h *conn) serveSniffed(n int, kind wire.Kind) {
	h.finish(h.dispatch(n, kind))
}

// dispatch runs a sniffed connection to its end: h.buf[:n] holds the bytes
// sniffed, kind what they are.
func (h *conn) dispatch(n int, kind wire.Kind) summary {
	cfg := h.rt.cfg
	prefix := h.buf[:n]
	s := summary{kind: kind}
	var err error
	if kind == wire.KindTLS && h.rt.tls != nil {
		// Terminate, then sniff the inner stream: policy requests, HTTP
		// (wss://), XML and binary all work inside TLS.
		if err := h.startTLS(prefix); err != nil {
			s.res.Up = int64(n)
			s.res.Reason, s.res.Err = "tls handshake failed", err
			return s
		}
		h.sniffStart = time.Now()
		n, kind, err = h.sniff(cfg.SniffTimeout)
		prefix = h.buf[:n]
		s.kind = kind
		if err != nil {
			s.res.Reason, s.res.Err = endReason("client", err), err
			return s
		}
	}
	if kind == wire.KindPolicy && h.rt.policyAnswer != nil {
		return h.answerPolicy(s)
	}
	if kind == wire.KindHTTP && h.rt.policyAnswer != nil {
		return h.serveHTTP(s, prefix)
	}
	if h.rt.backend == nil { // policy server: nothing else is served here
		s.res.Up = int64(n)
		if kind == wire.KindSilent || kind == wire.KindUnknown {
			s.res.Reason = "no policy request within sniff_timeout"
		} else {
			s.res.Reason = "not a policy request"
		}
		return s
	}
	return h.toBackend(s, prefix)
}

// toBackend runs the connection to the listener's backend: the builtin
// echo, or a dialed server and the relay. prefix holds the bytes sniffed.
func (h *conn) toBackend(s summary, prefix []byte) summary {
	cfg := h.rt.cfg
	b := h.rt.backend
	if b.echo() {
		s.backend = "builtin:echo"
		o := stream.Options{Idle: cfg.IdleTimeout}
		if cfg.Protocol == "xml" && s.kind != wire.KindTLS && s.kind != wire.KindHTTP {
			// max_message holds for the echo as for any backend.
			o.Up = wire.NewFramer(wire.FrameNUL, cfg.MaxMessage)
			s.ext.proto = "xml"
		}
		s.res = stream.Echo(h.cc, prefix, o)
		if o.Up != nil {
			s.ext.msgsUp, s.ext.msgsDown = s.res.MsgsUp, s.res.MsgsDown
		}
		return s
	}
	bc, srv, err := h.dialBackend(h.gw.ctx, b)
	if err != nil {
		s.res.Up = int64(len(prefix))
		s.res.Reason, s.res.Err = "backend unreachable", err
		return s
	}
	h.srv = srv // released in finish
	s.backend = srv.addr
	if !h.setBackend(bc) {
		bc.Close()
		s.res.Reason = stream.ReasonShutdown
		return s
	}
	return h.relay(s, prefix, bc)
}

// sniff reads until the sniffer decides, the buffer is full, or
// sniff_timeout passes. Silence is KindSilent; a partial prefix at the
// deadline or at EOF is data. err is set only when the client went away
// before sending anything.
func (h *conn) sniff(timeout time.Duration) (int, wire.Kind, error) {
	if timeout > 0 {
		_ = h.cc.SetReadDeadline(h.sniffStart.Add(timeout))
	}
	n := 0
	kind := wire.KindUnknown
	for kind == wire.KindUnknown && n < len(h.buf) {
		m, err := h.cc.Read(h.buf[n:])
		n += m
		kind = wire.Sniff(h.buf[:n])
		if err == nil {
			continue
		}
		if kind != wire.KindUnknown {
			break
		}
		switch {
		case stream.IsTimeout(err) && n == 0:
			kind = wire.KindSilent
		case stream.IsTimeout(err) || (errors.Is(err, io.EOF) && n > 0):
			kind = wire.KindData
		default:
			_ = h.cc.SetReadDeadline(time.Time{})
			return n, wire.KindUnknown, err
		}
	}
	if kind == wire.KindUnknown {
		kind = wire.KindData
	}
	_ = h.cc.SetReadDeadline(time.Time{})
	return n, kind, nil
}

// answerPolicy writes the pre-rendered policy and its NUL, then closes.
func (h *conn) answerPolicy(s summary) summary {
	s.res.Up = int64(len(wire.PolicyRequest))
	n, err := h.cc.Write(h.rt.policyAnswer)
	s.res.Down = int64(n)
	if err != nil {
		s.res.Reason, s.res.Err = endReason("client", err), err
		return s
	}
	stream.CloseWrite(h.cc)
	s.res.Reason = "policy served"
	h.gw.policyServed(h.l)
	return s
}

// setBackend records the backend connection for shutdown. It reports false
// when shutdown already began.
func (h *conn) setBackend(bc net.Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing != "" {
		return false
	}
	h.backendC = bc
	return true
}

// shutdown ends the connection now, with reason.
func (h *conn) shutdown(reason string) {
	h.mu.Lock()
	if h.closing == "" {
		h.closing = reason
	}
	bc := h.backendC
	ev := h.ev
	c := h.c // set late when an event loop hands the connection over
	h.mu.Unlock()
	if ev != nil {
		ev.Abort() // the loop closes both sockets and reports
		return
	}
	c.Close()
	if bc != nil {
		bc.Close()
	}
}

func (h *conn) logSummary(s summary) {
	level := zerolog.InfoLevel
	if s.res.Err != nil && !stream.IsExpectedEnd(s.res.Err) && !errors.Is(s.res.Err, stream.ErrIdle) {
		level = zerolog.WarnLevel
	}
	ev := h.l.log.WithLevel(level)
	if ev == nil {
		return
	}
	ev = ev.Uint64("conn", h.id).
		Str("client", h.client.String()).
		Str("kind", s.kind.String())
	if h.tlsOn {
		// Who still needs TLS 1.0 (HAProxy's %sslv/%sslc).
		ev = ev.Bool("tls", true).Str("tls_version", tls.VersionName(h.tlsVersion)).
			Str("tls_cipher", tls.CipherSuiteName(h.tlsCipher))
	}
	if h.backendTLS != "" {
		ev = ev.Str("backend_tls", h.backendTLS)
	}
	if s.backend != "" {
		ev = ev.Str("backend", s.backend)
	}
	ev = ev.Int64("bytes_up", s.res.Up).
		Int64("bytes_down", s.res.Down).
		Float64("duration_s", time.Since(h.start).Seconds()).
		Str("reason", truncate(s.res.Reason, maxLogText))
	if s.res.Spliced > 0 {
		ev = ev.Int64("bytes_spliced", s.res.Spliced) // of the bytes above, moved without a copy
	}
	ev = s.ext.log(ev)
	if s.res.Err != nil && s.res.Err.Error() != s.res.Reason { // not "idle timeout" twice
		ev = ev.Str("error", truncate(s.res.Err.Error(), maxLogText))
	}
	ev.Msg("connection closed")
}

// endReason names how a side ended for errors outside a relay.
func endReason(side string, err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return side + " closed"
	case stream.IsTimeout(err):
		return side + " timeout"
	default:
		return side + " error"
	}
}
