package gateway

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// Host-name servers for the event loops, which never block on a resolver:
// a goroutine per backend resolves its names at start and every
// resolveEvery after, keeping the last good answer when a lookup fails
// (as HAProxy's resolvers do), and at once (at most every resolveMinGap)
// when every address of a name refused or timed out: a backend that moved
// is found again in seconds, not at the next tick. The goroutine path keeps
// resolving at each dial through Go's resolver.
const (
	resolveEvery   = 30 * time.Second
	resolveMinGap  = time.Second
	resolveTimeout = 5 * time.Second
)

// resolveSoon asks b's resolver goroutine to look its names up again now
// (an event loop found every address of a name failing). It never blocks.
func (b *backend) resolveSoon() {
	select {
	case b.refresh <- struct{}{}:
	default: // one is pending already
	}
}

// addrs returns the addresses the event loops dial for s, in order: the
// literal, or the last resolved addresses (nil before the first answer).
func (s *server) addrs() []netip.AddrPort {
	if s.lit != nil {
		return s.lit
	}
	if p := s.resolved.Load(); p != nil {
		return *p
	}
	return nil
}

// resolveServers keeps b's host-name servers resolved until ctx ends.
func (b *backend) resolveServers(ctx context.Context, log zerolog.Logger) {
	var named []*server
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
	t := time.NewTicker(resolveEvery)
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
			// resolveMinGap, whatever the failures.
			if wait := resolveMinGap - time.Since(last); wait > 0 {
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
func (s *server) resolve(ctx context.Context, log zerolog.Logger, r *net.Resolver) {
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
