package gateway

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/gateway/wire"
)

// captureClientHello returns a real crypto/tls ClientHello, as a client
// sends it first on a connection.
func captureClientHello(t *testing.T) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	go func() {
		tc := tls.Client(c1, &tls.Config{ServerName: "example.com"})
		_ = tc.Handshake()
	}()
	buf := make([]byte, 16<<10)
	n, err := c2.Read(buf)
	if err != nil {
		t.Fatalf("read ClientHello: %v", err)
	}
	return buf[:n]
}

// policyRequest is a policy request as a client sends it.
var policyRequest = []byte(wire.PolicyRequest)

// runRelay relays between client and backend with the one stream relay
// (tests and benchmarks).
func runRelay(client net.Conn, prefix []byte, backend net.Conn, idle time.Duration) stream.Result {
	return stream.Relay(client, prefix, backend, stream.Options{Idle: idle})
}
