package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/policyfile"
)

// HTTP on a listener with a policy. The sniffer saw a request line; the
// handler reads the rest of the request head (bounded by maxHTTPHead and
// httpHeadTimeout, every byte kept) and then:
//
//   - GET or HEAD /crossdomain.xml: the URL policy, then close;
//   - Upgrade: websocket on a path with a websocket block: the Origin check,
//     then the bridge (websocket.go); on any other path: 404;
//   - anything else: relayed unchanged to the listener's backend, every byte
//     read so far first (404 on a listener without one).
//
// The URL policy is derived from the listener's socket policy: the same
// allow-access-from domains (and secure attributes) without to-ports, which
// URL policies do not have, one rule per domain; site-control, identities and
// header rules kept. It is the master URL policy of this host:port, so
// site-control is meaningful there.

const (
	// maxHTTPHead bounds a request head (stream.MaxHead). Beyond it: 431
	// and close.
	maxHTTPHead = stream.MaxHead
	// httpHeadTimeout bounds how long a client may take to send its head,
	// from accept (or sniff_timeout, if that is longer). Beyond it: 408.
	httpHeadTimeout = 5 * time.Second
)

// httpAction is what the handler does with a request.
type httpAction uint8

const (
	httpRelay     httpAction = iota // to the listener's backend, unchanged
	httpPolicy                      // the URL policy
	httpWebSocket                   // the bridge
	httpNotFound                    // a WebSocket upgrade on a path without a block
)

// extSummary holds what HTTP, WebSocket and xml connections add to the
// summary line.
type extSummary struct {
	http      string // "GET /crossdomain.xml", "websocket /chat", ...
	status    int    // HTTP status the gateway answered, 0 when relayed
	origin    string // the Origin header, as sent
	proto     string // "xml" or "binary" when messages are counted
	msgsUp    int64  // messages client→backend
	msgsDown  int64  // messages backend→client
	closeCode int    // WebSocket close code sent or received, 0 if none
}

func (e *extSummary) log(ev *zerolog.Event) *zerolog.Event {
	if e.http != "" {
		ev = ev.Str("http", e.http)
	}
	if e.status != 0 {
		ev = ev.Int("status", e.status)
	}
	if e.origin != "" {
		ev = ev.Str("origin", e.origin)
	}
	if e.proto != "" {
		ev = ev.Str("protocol", e.proto).Int64("msgs_up", e.msgsUp).Int64("msgs_down", e.msgsDown)
	}
	if e.closeCode != 0 {
		ev = ev.Int("ws_close", e.closeCode)
	}
	return ev
}

// parseHead parses a complete request head.
func parseHead(head []byte) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReaderSize(bytes.NewReader(head), 4096))
}

// isWebSocketUpgrade reports whether req asks for a WebSocket (the Upgrade
// header lists the token "websocket").
func isWebSocketUpgrade(req *http.Request) bool {
	for _, v := range req.Header.Values("Upgrade") {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "websocket") {
				return true
			}
		}
	}
	return false
}

// decideHTTP picks the action for req on a listener with these websocket
// blocks.
func decideHTTP(req *http.Request, wss []*config.WebSocket) (httpAction, *config.WebSocket) {
	if isWebSocketUpgrade(req) {
		for _, ws := range wss {
			if ws.Path == req.URL.Path {
				return httpWebSocket, ws
			}
		}
		return httpNotFound, nil
	}
	if req.URL.Path == "/crossdomain.xml" && (req.Method == http.MethodGet || req.Method == http.MethodHead) {
		return httpPolicy, nil
	}
	return httpRelay, nil
}

// serveHTTP handles an HTTP request on a listener with a policy.
func (h *conn) serveHTTP(s summary, prefix []byte) summary {
	cfg := h.rt.cfg
	buf := make([]byte, len(prefix), 1024)
	copy(buf, prefix)
	_ = h.cc.SetReadDeadline(h.sniffStart.Add(max(cfg.SniffTimeout, httpHeadTimeout)))
	buf, n, err := stream.ReadHead(h.cc, buf)
	_ = h.cc.SetReadDeadline(time.Time{})
	s.res.Up = int64(len(buf))
	switch {
	case errors.Is(err, stream.ErrHeadTooLarge):
		return h.httpError(s, http.StatusRequestHeaderFieldsTooLarge, "request head too large", err)
	case stream.IsTimeout(err):
		return h.httpError(s, http.StatusRequestTimeout, "request head timeout", err)
	case err != nil && !(errors.Is(err, io.EOF) && h.rt.backend != nil):
		s.res.Reason, s.res.Err = endReason("client", err), err
		return s
	}
	var req *http.Request
	act := httpRelay
	var ws *config.WebSocket
	if n >= 0 {
		req, err = parseHead(buf[:n])
		if err == nil {
			act, ws = decideHTTP(req, cfg.WebSockets)
			s.ext.http = req.Method + " " + truncate(req.URL.Path, 64)
		} else if h.rt.backend == nil {
			return h.httpError(s, http.StatusBadRequest, "bad request head", err)
		}
	}
	switch act {
	case httpPolicy:
		return h.servePolicy(s, req)
	case httpNotFound:
		return h.httpError(s, http.StatusNotFound, "no websocket on this path", nil)
	case httpWebSocket:
		s.ext.http = "websocket " + ws.Path
		return h.serveWebSocket(s, req, buf[n:], ws)
	}
	if h.rt.backend == nil {
		return h.httpError(s, http.StatusNotFound, "not found", nil)
	}
	if h.rt.backend.echo() { // the builtin echo gets the request as any backend would
		s.backend = "builtin:echo"
		s.res = stream.Echo(h.cc, buf, stream.Options{Idle: cfg.IdleTimeout})
		return s
	}
	s.res.Up = 0
	bc, release, ok := h.connectBackend(&s, h.rt.backend)
	if !ok {
		s.res.Up = int64(len(buf))
		return s
	}
	defer release()
	s.res = stream.Relay(h.cc, buf, bc, stream.Options{Idle: cfg.IdleTimeout})
	return s
}

// connectBackend dials b for this connection (with its PROXY header, if the
// backend wants one) and registers it for shutdown. On failure it fills s
// and returns false; on success the caller calls release when done.
func (h *conn) connectBackend(s *summary, b *backend) (bc net.Conn, release func(), ok bool) {
	bc, srv, err := h.dialBackend(h.gw.ctx, b)
	if err != nil {
		s.res.Reason, s.res.Err = "backend unreachable", err
		return nil, nil, false
	}
	s.backend = srv.addr
	if !h.setBackend(bc) {
		bc.Close()
		srv.release()
		s.res.Reason = stream.ReasonShutdown
		return nil, nil, false
	}
	return bc, srv.release, true
}

// httpError answers with a short plain-text error and closes.
func (h *conn) httpError(s summary, code int, reason string, err error) summary {
	_ = h.cc.SetWriteDeadline(time.Now().Add(httpHeadTimeout))
	w, werr := stream.WriteHTTPError(h.cc, code, reason)
	s.res.Down = int64(w)
	s.ext.status = code
	s.res.Reason = "http " + strconv.Itoa(code) + ": " + reason
	s.res.Err = err
	if err == nil && werr != nil {
		s.res.Err = werr
	}
	stream.CloseWrite(h.cc)
	return s
}

// servePolicy answers /crossdomain.xml and closes.
func (h *conn) servePolicy(s summary, req *http.Request) summary {
	p := h.policy()
	if p == nil {
		return h.httpError(s, http.StatusNotFound, "no policy", nil)
	}
	resp := urlPolicyResponse(p)
	if req.Method == http.MethodHead {
		resp = resp[:bytes.Index(resp, []byte("\r\n\r\n"))+4]
	}
	_ = h.cc.SetWriteDeadline(time.Now().Add(httpHeadTimeout))
	n, err := h.cc.Write(resp)
	s.res.Down = int64(n)
	s.ext.status = http.StatusOK
	if err != nil {
		s.res.Reason, s.res.Err = endReason("client", err), err
		return s
	}
	stream.CloseWrite(h.cc)
	s.res.Reason = "url policy served"
	return s
}

// policy returns the listener's policy, or nil.
func (h *conn) policy() *policyfile.Policy {
	if pc := h.rt.conf.Policy(h.rt.cfg.Policy); pc != nil {
		return pc.Policy
	}
	return nil
}

// URLPolicy derives the URL policy (/crossdomain.xml) from a socket policy:
// the same domains without to-ports, one rule per domain and secure value,
// site-control, identities and header rules kept.
func URLPolicy(p *policyfile.Policy) *policyfile.Policy {
	u := &policyfile.Policy{SiteControl: p.SiteControl, Identities: p.Identities, Headers: p.Headers}
	seen := map[string]bool{}
	for _, a := range p.Allow {
		key := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(a.Domain), "."))
		if a.Secure != nil {
			key += "\x00" + strconv.FormatBool(*a.Secure)
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		u.Allow = append(u.Allow, policyfile.Allow{Domain: a.Domain, Secure: a.Secure})
	}
	return u
}

// urlPolicyCache holds rendered responses per socket policy; policies are
// immutable once loaded, and a reload brings new pointers.
var urlPolicyCache sync.Map // *policyfile.Policy → []byte

func urlPolicyResponse(p *policyfile.Policy) []byte {
	if v, ok := urlPolicyCache.Load(p); ok {
		return v.([]byte)
	}
	resp := stream.PolicyResponse(URLPolicy(p).Generate())
	urlPolicyCache.Store(p, resp)
	return resp
}

// truncate caps client-supplied text for the log: at most n bytes, cut at a
// rune boundary and marked with "…". The logger escapes what remains
// (quotes, control bytes), in JSON and console format alike.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// maxLogText bounds a reason or error string in a log line; they can
// quote client bytes (an Origin host, a malformed header line).
const maxLogText = 256
