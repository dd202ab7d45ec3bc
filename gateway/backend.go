package gateway

import (
	"context"
	"fmt"
	"net"
)

// dialBackend dials b for h (upstream.Backend.Dial) and, when the backend
// wants one, sends the PROXY header before any client byte, then
// originates TLS if the backend has a tls block. The caller releases the
// server when the connection ends.
func (h *conn) dialBackend(ctx context.Context, b *backend) (net.Conn, *server, error) {
	bc, us, err := b.Dial(ctx)
	if err != nil {
		return nil, nil, err
	}
	srv := b.wrap(us)
	if v := b.cfg.ProxyProtocol; v != "" {
		if err := h.writeProxyHeader(bc, v); err != nil {
			bc.Close()
			srv.release()
			return nil, nil, fmt.Errorf("backend %q: %s: PROXY header: %w", b.cfg.Name, srv.addr, err)
		}
	}
	if b.tls != nil {
		tc, status, err := h.originateTLS(ctx, b, srv, bc)
		h.backendTLS = string(status)
		if err != nil {
			srv.release()
			return nil, nil, err
		}
		return tc, srv, nil
	}
	return bc, srv, nil
}
