package gateway

import (
	"net/netip"

	"github.com/flashgate/flashgate/gateway/wire"
)

// The codecs live in gateway/wire. These names keep the rest of package
// gateway compiling unchanged while other files are rewritten around them;
// each forwards to wire and holds no logic of its own. They are meant to be
// replaced by the wire names at every call site and then removed.

// Sniffing (gateway/wire/sniff.go).
type Kind = wire.Kind

// Kinds the sniffer tells apart.
const (
	KindUnknown = wire.KindUnknown
	KindPolicy  = wire.KindPolicy
	KindTLS     = wire.KindTLS
	KindHTTP    = wire.KindHTTP
	KindData    = wire.KindData
	KindSilent  = wire.KindSilent
	KindRaw     = wire.KindRaw
)

const maxSniff = wire.MaxSniff

// kindNames names every Kind, in order (metrics and status iterate it).
var kindNames = func() (n [wire.NumKinds]string) {
	for k := range n {
		n[k] = Kind(k).String()
	}
	return n
}()

// policyRequest is the socket policy request, NUL included.
var policyRequest = []byte(wire.PolicyRequest)

// Sniff is wire.Sniff.
func Sniff(prefix []byte) Kind { return wire.Sniff(prefix) }

// PROXY protocol codec (gateway/wire/proxy.go).
type proxyHeader = wire.ProxyHeader

// ErrProxyHeader is returned for a missing or malformed PROXY header.
var ErrProxyHeader = wire.ErrProxyHeader

func appendProxyHeader(b []byte, version string, src, dst netip.AddrPort) []byte {
	return wire.AppendProxy(b, version, src, dst)
}

// XMLSocket framing (gateway/wire/framing.go).

// ErrMessageTooLarge ends an xml connection whose message exceeded
// max_message.
var ErrMessageTooLarge = wire.ErrMessageTooLarge

const (
	frameNUL     = wire.FrameNUL
	frameNULLine = wire.FrameNULLine
	frameLineNUL = wire.FrameLineNUL
)

func xmlModes(backendFraming string) (up, down wire.FrameMode) { return wire.XMLModes(backendFraming) }

// framer is a wire.Framer under the lower-case names the relays call; msgs
// mirrors Msgs() after every frame.
type framer struct {
	*wire.Framer
	msgs int64
}

func newFramer(mode wire.FrameMode, max int64) *framer {
	return &framer{Framer: wire.NewFramer(mode, max)}
}

func (f *framer) frame(buf []byte, off, n int) (start, end int, err error) {
	start, end, err = f.Frame(buf, off, n)
	f.msgs = f.Msgs()
	return start, end, err
}

func (f *framer) flush() []byte { return f.Flush() }

// The HTTP request head scan (gateway/wire/httphead.go).
func headEnd(b []byte) int { return wire.HeadEnd(b) }
