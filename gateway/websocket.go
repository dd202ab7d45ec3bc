package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/gateway/wire"
)

// The WebSocket bridge: one WebSocket, one backend connection, bytes
// unchanged. It serves Ruffle's socketProxy, which opens a WebSocket without
// a subprotocol, sends one binary message per XMLSocket.send (the trailing
// NUL inside) or per Socket flush, drops text frames and reads the server's
// frames as a byte stream.
//
//   - Subprotocols: none (Ruffle) or "binary" when offered.
//   - The gateway sends binary frames only. protocol "binary": one message
//     per backend read. protocol "xml": one message per NUL-terminated XML
//     message (a message larger than the 32 KiB read buffer goes out as one
//     fragmented message); max_message applies, and a "line" backend is
//     translated as in the xml relay.
//   - Client messages may be fragmented and of any length (64-bit lengths
//     included): they are streamed through a 32 KiB buffer, never gathered.
//     Text frames are accepted and relayed as bytes too.
//   - permessage-deflate is declined (the response carries no extension, as
//     RFC 7692 requires of a server that does not want it): game messages are
//     small, a deflate context costs tens of KiB per connection, and
//     compressing secrets beside attacker-chosen data invites CRIME-style
//     attacks.
//   - Pings are answered by the library; the idle timeout covers silent
//     peers.
//   - Close codes: backend closed → 1001, backend error → 1011, a message
//     over max_message → 1009 (client's) or 1011 (backend's); a refused
//     Origin never gets that far: it is answered with HTTP 403 before the
//     upgrade, and an unreachable backend with 502.

var errOriginDenied = errors.New("origin denied by policy")

// serveWebSocket checks the Origin, dials the backend, upgrades and bridges.
// rest holds bytes the client sent after its request head.
func (h *conn) serveWebSocket(s summary, req *http.Request, rest []byte, ws *config.WebSocket) summary {
	cfg := h.rt.cfg
	origin := req.Header.Get("Origin")
	s.ext.origin = truncate(origin, 128)
	host, d := checkOrigin(h.policy(), origin, h.localPort())
	if !d.Allowed {
		s = h.httpError(s, http.StatusForbidden, "origin not allowed by the cross-domain policy", errOriginDenied)
		s.res.Reason = fmt.Sprintf("origin %q denied: %s", truncate(host, 128), truncate(d.Rule, 200))
		return s
	}
	// The whole handshake is checked before any backend is dialed (and
	// sent a PROXY header): a request the upgrade would refuse costs the
	// backend nothing.
	if err := stream.CheckUpgrade(req); err != nil {
		return h.httpError(s, http.StatusBadRequest, "bad websocket handshake", err)
	}
	b := h.wsBackend(ws)
	if b == nil {
		return h.httpError(s, http.StatusBadGateway, "no backend", fmt.Errorf("websocket %q: backend %q is not defined", ws.Path, ws.Backend))
	}
	var bc net.Conn
	if b.echo() {
		s.backend = "builtin:echo"
	} else {
		var ok bool
		var release func()
		if bc, release, ok = h.connectBackend(&s, b); !ok {
			reason, err := s.res.Reason, s.res.Err
			s = h.httpError(s, http.StatusBadGateway, "backend unreachable", err)
			s.res.Reason = reason
			return s
		}
		defer release()
	}
	o := stream.BridgeOptions{Idle: cfg.IdleTimeout}
	if ws.Protocol == "xml" {
		upMode, downMode := wire.XMLModes(b.cfg.Framing)
		if b.echo() {
			upMode = wire.FrameNUL
		}
		o.Up = wire.NewFramer(upMode, cfg.MaxMessage)
		o.Down = wire.NewFramer(downMode, cfg.MaxMessage)
	}
	br := stream.Bridge(h.cc, req, rest, bc, o)
	s.ext.status = br.Status
	s.res = br.Result
	if br.Status != http.StatusSwitchingProtocols {
		return s
	}
	s.ext.proto = ws.Protocol
	s.ext.msgsUp, s.ext.msgsDown = br.MsgsUp, br.MsgsDown
	s.ext.closeCode = br.CloseCode
	return s
}

// wsBackend returns the backend of a websocket block: the listener's, or
// the pool of that name in the current generation (so health and balance
// state are shared), or, should a reload have dropped it, a fresh one from
// this connection's config.
func (h *conn) wsBackend(ws *config.WebSocket) *backend {
	if ws.Backend == "" || (h.rt.backend != nil && ws.Backend == h.rt.backend.cfg.Name) {
		return h.rt.backend
	}
	if g := h.gw.gen.Load(); g != nil && g.cfg == h.rt.conf {
		if b := g.pools[ws.Backend]; b != nil {
			return b
		}
	}
	bc := h.rt.conf.Backend(ws.Backend)
	if bc == nil {
		return nil
	}
	return newBackend(bc)
}

// localPort is the port the client connected to (from a PROXY header when
// the listener expects one).
func (h *conn) localPort() int {
	if h.local.IsValid() {
		return int(h.local.Port())
	}
	if a, ok := h.c.LocalAddr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}
