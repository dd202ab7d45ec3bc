package gateway

import (
	"net"

	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/gateway/wire"
)

// relay runs the stream relay (gateway/stream/relay.go) to a dialed
// backend: framed for protocol "xml" (except TLS and HTTP, which are
// relayed as plain bytes), binary otherwise.
func (h *conn) relay(s summary, prefix []byte, bc net.Conn) summary {
	cfg := h.rt.cfg
	o := stream.Options{Idle: cfg.IdleTimeout}
	if cfg.Protocol == "xml" && s.kind != wire.KindTLS && s.kind != wire.KindHTTP {
		upMode, downMode := wire.XMLModes(h.rt.backend.cfg.Framing)
		o.Up, o.Down = wire.NewFramer(upMode, cfg.MaxMessage), wire.NewFramer(downMode, cfg.MaxMessage)
		s.ext.proto = "xml"
	}
	s.res = stream.Relay(h.cc, prefix, bc, o)
	if o.Up != nil {
		s.ext.msgsUp, s.ext.msgsDown = s.res.MsgsUp, s.res.MsgsDown
	}
	return s
}
