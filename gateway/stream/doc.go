// Package stream is flashgate's engine for net.Conn streams: every
// connection the Linux event loops do not own (TLS-terminated, WebSocket,
// HTTP, and every connection on other systems) is moved here, with
// blocking reads and writes, one goroutine per direction.
//
// It holds the one generic relay (Relay: bytes, or NUL-framed XMLSocket
// messages with gateway/wire's Framer), the builtin echo (Echo), the
// WebSocket bridge onto a raw backend (Bridge), and small connection
// helpers (PrefixConn, CloseWrite). A relay holds no pooled buffer while
// its connection is idle: a raw socket is waited on for readability
// without a buffer, and a stream over one (TLS) is read into a small
// per-direction array first (relay.go, direction.read). A write to a peer
// that does not read checks every second whether the other side's peer
// reset, so a vanished client frees its stalled backend at once.
//
// The package makes no routing decision and knows nothing of config: the
// caller (package gateway) has admitted, sniffed, checked the Origin and
// dialed; stream only moves bytes and reports a Result for the summary
// line.
//
// Typical use:
//
//	up, down := wire.XMLModes("nul")
//	res := stream.Relay(client, sniffed, backend, stream.Options{
//		Idle: 10 * time.Minute,
//		Up:   wire.NewFramer(up, 64<<10),
//		Down: wire.NewFramer(down, 64<<10),
//	})
//	log.Printf("%s: %d up, %d down", res.Reason, res.Up, res.Down)
package stream
