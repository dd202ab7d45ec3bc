package upstream

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// CheckHealth runs the backend's active TCP health check until ctx ends:
// every interval each server is dialed with the check's timeout and closed.
// A failed check marks the server down until a check passes. Without a
// health check configured it returns at once.
func (b *Backend) CheckHealth(ctx context.Context, log zerolog.Logger) {
	hc := b.cfg.HealthCheck
	if hc == nil || len(b.servers) == 0 {
		return
	}
	interval, timeout := hc.Interval, hc.Timeout
	if interval <= 0 {
		interval = 5 * time.Second
	}
	if timeout <= 0 {
		timeout = time.Second
	}
	d := net.Dialer{Timeout: timeout, Resolver: b.resolver}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, s := range b.servers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.checkOne(ctx, log, &d, s, timeout)
			}()
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkOne dials s once and records the outcome, logging a change of state.
func (b *Backend) checkOne(ctx context.Context, log zerolog.Logger, d *net.Dialer, s *Server, timeout time.Duration) {
	wasUp := s.Up()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	c, err := d.DialContext(cctx, "tcp", s.addr)
	cancel()
	if ctx.Err() != nil {
		if c != nil {
			c.Close()
		}
		return
	}
	if err != nil {
		s.Failed(err, true)
		if wasUp {
			log.Warn().Str("backend", b.cfg.Name).Str("server", s.addr).Err(err).Msg("health check failed; server down")
		}
		return
	}
	c.Close()
	s.Succeeded()
	if !wasUp {
		log.Info().Str("backend", b.cfg.Name).Str("server", s.addr).Msg("health check passed; server up")
	}
}
