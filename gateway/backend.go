package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// ErrNoBackend is returned when every address of a backend refused or timed out.
var ErrNoBackend = errors.New("no backend reachable")

// backend dials one configured backend.
type backend struct {
	cfg    *BackendConfig
	dialer net.Dialer
}

func newBackend(cfg *BackendConfig) *backend {
	return &backend{cfg: cfg, dialer: net.Dialer{Timeout: cfg.ConnectTimeout}}
}

// echo reports whether the backend is the builtin echo.
func (b *backend) echo() bool { return b.cfg.Builtin == "echo" }

// dial connects to the first reachable address, in the configured order, and
// returns the connection and the address it reached.
func (b *backend) dial(ctx context.Context) (net.Conn, string, error) {
	var errs []error
	for _, addr := range b.cfg.Address {
		dctx, cancel := context.WithTimeout(ctx, b.timeout())
		c, err := b.dialer.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			return c, addr, nil
		}
		errs = append(errs, fmt.Errorf("dial backend %s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", fmt.Errorf("backend %q: %w: %w", b.cfg.Name, ErrNoBackend, errors.Join(errs...))
}

func (b *backend) timeout() time.Duration {
	if b.cfg.ConnectTimeout > 0 {
		return b.cfg.ConnectTimeout
	}
	return 5 * time.Second
}
