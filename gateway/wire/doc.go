// Package wire holds flashgate's pure codecs: the first-bytes sniffer
// (Sniff, Kind), the PROXY protocol v1/v2 parser and encoder, NUL and line
// framing of XMLSocket messages (Framer), the HTTP request head scan
// (HeadEnd), Origin normalisation (OriginHost) and the WebSocket frame
// header codec (ParseFrameHeader, AppendFrameHeader).
//
// Nothing here does I/O, holds a lock or keeps state between calls beyond
// the value it is called on; the connection code owns sockets, buffers and
// deadlines. Each codec works on the bytes seen so far and says "need more"
// until it can decide, so the blocking readers in package gateway and the
// Linux event loop call the same code. Every codec is table-tested and has
// a fuzz target with a seed corpus under testdata/fuzz.
//
// Typical use, reading a PROXY header without taking a byte past it:
//
//	var b []byte // the header bytes read so far
//	for {
//		need, err := wire.ProxyNeed(b, "v2")
//		if err != nil {
//			return err
//		}
//		if need == 0 {
//			hdr, _, err := wire.ParseProxy(b, "v2")
//			return use(hdr, err)
//		}
//		b = readExactly(b, need) // v1: peek, then take through CRLF only
//	}
//
// The package imports only the standard library.
package wire
