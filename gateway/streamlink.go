package gateway

import (
	"net"
	"sync"
	"time"

	"github.com/flashgate/flashgate/gateway/stream"
)

// The stream engine lives in gateway/stream. These names keep the rest of
// package gateway (the event loops, conn.go) compiling unchanged; each
// forwards to stream and holds no logic of its own. They are meant to be
// replaced by the stream names at every call site and then removed.

type relayResult = stream.Result

// Close reasons reported in the summary line.
const (
	reasonClientClosed  = stream.ReasonClientClosed
	reasonBackendClosed = stream.ReasonBackendClosed
	reasonClientError   = stream.ReasonClientError
	reasonBackendError  = stream.ReasonBackendError
	reasonIdle          = stream.ReasonIdle
	reasonShutdown      = stream.ReasonShutdown
)

var errIdle = stream.ErrIdle

func isTimeout(err error) bool     { return stream.IsTimeout(err) }
func isExpectedEnd(err error) bool { return stream.IsExpectedEnd(err) }
func closeWrite(c net.Conn) bool   { return stream.CloseWrite(c) }
func runEcho(c net.Conn, prefix []byte, idle time.Duration) relayResult {
	return stream.Echo(c, prefix, idle)
}

func runRelay(client net.Conn, prefix []byte, backend net.Conn, idle time.Duration) relayResult {
	return stream.Relay(client, prefix, backend, stream.Options{Idle: idle})
}

// copyBufSize and copyBufPool are the event loops' staging buffers
// (evio_linux.go), the size of the stream relay's.
const copyBufSize = stream.BufSize

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
