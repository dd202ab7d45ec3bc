//go:build !linux

package gateway

import (
	"errors"
	"net"
	"time"
)

// copyTCP falls back to the buffered copy where splice(2) does not exist.
func (r *relay) copyTCP(d *direction, _, _ *net.TCPConn) error {
	return r.copyGeneric(d)
}

// parker exists on Linux only; elsewhere relays wait in the Go poller.
type parker struct{}

func newParker() (*parker, error) { return nil, errors.New("parking needs Linux epoll") }

func (p *parker) close() {}

// asyncRelay exists on Linux only.
type asyncRelay struct{}

func (a *asyncRelay) cancelParked() {}

// startRelay runs the relay to its end where directions cannot park.
func startRelay(client *net.TCPConn, prefix []byte, backend *net.TCPConn, idle time.Duration, _ *parker,
	up, down *framer, started func(*relay), onDone func(relayResult)) {
	// Never reached: without a parker (newParker fails here) connections
	// take the waiting relays (runRelay, runXMLRelay).
	onDone(runRelay(client, prefix, backend, idle))
}
