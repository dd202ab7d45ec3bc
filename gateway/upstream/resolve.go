package upstream

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// Host-name servers for non-blocking dials (event loops), which never block
// on a resolver: ResolveServers resolves a backend's names at start and
// every ResolveEvery after, keeping the last good answer when a lookup
// fails, and at once (at most every ResolveMinGap) when every address of a
// name refused or timed out: a backend that moved is found again in
// seconds, not at the next tick. The blocking Dial keeps resolving at each
// dial through Go's resolver.
const (
	ResolveEvery   = 30 * time.Second // the periodic lookup
	ResolveMinGap  = time.Second      // the least time between two lookups ResolveSoon asks for
	resolveTimeout = 5 * time.Second
)

// ResolveSoon asks the backend's ResolveServers to look its names up again
// now (every address of a name failed; Dialing calls it). It never blocks.
func (b *Backend) ResolveSoon() {
	select {
	case b.refresh <- struct{}{}:
	default: // one is pending already
	}
}

// ResolveServers keeps the backend's host-name servers resolved (their
// Server.Addrs) until ctx ends. Without host names it returns at once.
func (b *Backend) ResolveServers(ctx context.Context, log zerolog.Logger) {
	var named []*Server
	for _, s := range b.servers {
		if s.host != "" {
			named = append(named, s)
		}
	}
	if len(named) == 0 {
		return
	}
	r := b.resolver
	if r == nil {
		r = net.DefaultResolver
	}
	t := time.NewTicker(ResolveEvery)
	defer t.Stop()
	for {
		last := time.Now()
		for _, s := range named {
			s.resolve(ctx, log, r)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-b.refresh:
			// Dials failed: look again, but not more often than
			// ResolveMinGap, whatever the failures.
			if wait := ResolveMinGap - time.Since(last); wait > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
			}
			log.Debug().Str("backend", b.cfg.Name).Msg("resolve again: every address of a name failed")
		}
	}
}

// resolve looks s's host up once; a failure keeps the previous addresses.
func (s *Server) resolve(ctx context.Context, log zerolog.Logger, r *net.Resolver) {
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	ips, err := r.LookupNetIP(rctx, "ip", s.host)
	if err != nil || len(ips) == 0 {
		if ctx.Err() == nil {
			log.Debug().Err(err).Str("server", s.addr).Msg("resolve: keeping the last addresses")
		}
		return
	}
	addrs := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		addrs = append(addrs, netip.AddrPortFrom(ip.Unmap(), s.port))
	}
	if old := s.resolved.Load(); old == nil || !slices.Equal(*old, addrs) {
		log.Debug().Str("server", s.addr).Str("addresses", addrsString(addrs)).Msg("resolved")
		s.resolved.Store(&addrs)
	}
}

func addrsString(as []netip.AddrPort) string {
	var b []byte
	for i, a := range as {
		if i > 0 {
			b = append(b, ' ')
		}
		b = a.AppendTo(b)
	}
	return string(b)
}
