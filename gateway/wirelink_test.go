package gateway

import (
	"crypto/tls"
	"net"
	"testing"
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

// TestWirelinkFramerCountsMessages checks the forwarding framer keeps msgs
// in step with the wire framer, as the relays' summary lines read it.
func TestWirelinkFramerCountsMessages(t *testing.T) {
	up, down := xmlModes("line")
	f := newFramer(down, 0)
	buf := []byte(" a\nb\r\nc")
	if _, _, err := f.frame(buf, 1, len(buf)-1); err != nil {
		t.Fatal(err)
	}
	if f.msgs != 2 || f.Msgs() != 2 {
		t.Fatalf("msgs %d, Msgs() %d; want 2", f.msgs, f.Msgs())
	}
	if up != frameNULLine || len(kindNames) != int(KindRaw)+1 || kindNames[KindTLS] != "tls" {
		t.Fatalf("up %d, kindNames %q", up, kindNames)
	}
}
