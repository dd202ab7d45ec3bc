package gateway

import (
	"context"
	"net"
	"strings"
	"testing"
)

// TestListenErrorNamesAddressOnce: an address in use is reported as the
// system says it ("listen tcp ADDR: bind: …"), not with the address twice.
func TestListenErrorNamesAddressOnce(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	_, err = listenTCP(context.Background(), addr, false)
	if err == nil {
		t.Fatal("listening on a busy address succeeded")
	}
	if n := strings.Count(err.Error(), addr); n != 1 || strings.Count(err.Error(), "listen") != 1 {
		t.Fatalf("error %q names the address %d times", err, n)
	}
}
