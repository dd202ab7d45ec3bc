package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"reflect"
	"time"

	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/gateway/stream"
	"github.com/flashgate/flashgate/gateway/upstream"
	"github.com/flashgate/flashgate/tlsterm"
)

// tlsHandshakeTimeout bounds a client's TLS handshake on a terminating
// listener; a slow drip is cut here.
const tlsHandshakeTimeout = 10 * time.Second

// listenerTLS is a listener's TLS termination: the terminator and the config
// it was built from, so a reload can tell whether to keep it.
type listenerTLS struct {
	cfg  config.ListenerTLS
	acme *config.ACME
	term *tlsterm.Terminator
	conf *tls.Config
}

// buildTLS creates the TLS terminators of gen's listeners and the TLS
// dialers of its backends. Terminators whose config did not change since
// prev are kept and re-read their files (SIGHUP reloads certificates); the
// others are new. It returns the terminators of prev that gen no longer
// uses: close them once gen is committed.
func (g *Gateway) buildTLS(gen *generation, prev *generation) (retired []*tlsterm.Terminator, err error) {
	cfg := gen.cfg
	gen.tls = make(map[string]*listenerTLS)
	kept := map[*listenerTLS]bool{}
	fail := func(err error) ([]*tlsterm.Terminator, error) {
		for _, lt := range gen.tls {
			if !kept[lt] {
				lt.term.Close()
			}
		}
		gen.tls = nil
		return nil, err
	}
	for _, lc := range cfg.Listeners {
		if lc.TLS == nil {
			continue
		}
		if prev != nil {
			if old := prev.tls[lc.Name]; old != nil && reflect.DeepEqual(old.cfg, *lc.TLS) && reflect.DeepEqual(old.acme, cfg.ACME) {
				if err := old.term.Reload(); err != nil {
					return fail(fmt.Errorf("listener %q: reload certificates: %w", lc.Name, err))
				}
				gen.tls[lc.Name] = old
				kept[old] = true
				continue
			}
		}
		tcfg, err := withACMEStorage(termConfig(cfg, lc.TLS), cfg, g.log)
		if err != nil {
			return fail(fmt.Errorf("listener %q: %w", lc.Name, err))
		}
		term, err := tlsterm.NewTerminator(tcfg, g.log.With().Str("listener", lc.Name).Logger())
		if err != nil {
			return fail(fmt.Errorf("listener %q: %w", lc.Name, err))
		}
		for _, w := range term.Warnings() {
			g.log.Warn().Str("listener", lc.Name).Msg(w)
		}
		gen.tls[lc.Name] = &listenerTLS{cfg: *lc.TLS, acme: cfg.ACME, term: term, conf: term.TLSConfig()}
	}
	for _, bc := range cfg.Backends {
		if bc.TLS == nil {
			continue
		}
		d, err := g.tlsDialer(bc)
		if err != nil {
			return fail(err)
		}
		if b := gen.pools[bc.Name]; b != nil {
			b.tls = d
		}
	}
	if prev != nil {
		for _, lt := range prev.tls {
			if !kept[lt] {
				retired = append(retired, lt.term)
			}
		}
	}
	return retired, nil
}

// termConfig maps a listener's tls block (and the acme block) to tlsterm.
func termConfig(cfg *config.Config, t *config.ListenerTLS) tlsterm.TermConfig {
	tc := tlsterm.TermConfig{ACMENames: t.ACME, MinVersion: t.MinVersion}
	if t.CertFile != "" {
		tc.Certs = append(tc.Certs, tlsterm.CertPair{CertFile: t.CertFile, KeyFile: t.KeyFile})
	}
	for _, p := range t.Certificates {
		tc.Certs = append(tc.Certs, tlsterm.CertPair{CertFile: p.CertFile, KeyFile: p.KeyFile})
	}
	if len(t.ACME) > 0 && cfg.ACME != nil {
		tc.ACME = &tlsterm.ACMEConfig{
			Email:       cfg.ACME.Email,
			CA:          cfg.ACME.CA,
			CARoot:      cfg.ACME.CARoot,
			StoragePath: cfg.ACME.Storage,
		}
	}
	return tc
}

// tlsDialer builds the TLS origination of a backend.
func (g *Gateway) tlsDialer(bc *config.Backend) (*tlsterm.Dialer, error) {
	t := bc.TLS
	return upstream.NewTLSDialer(bc.Name, upstream.TLS{ServerName: t.ServerName, CAFile: t.CAFile,
		Require: t.Require, Revocation: t.Revocation}, bc.ConnectTimeout, g.revocation)
}

// closeTerminators stops terminators a reload or shutdown left behind.
func closeTerminators(log zerolog.Logger, ts []*tlsterm.Terminator) {
	for _, t := range ts {
		if err := t.Close(); err != nil {
			log.Warn().Err(err).Msg("close tls terminator")
		}
	}
}

// startTLS terminates TLS on the client connection: the ClientHello bytes
// already sniffed are replayed under the handshake. On success h.cc is the
// TLS stream, which the caller sniffs again.
func (h *conn) startTLS(prefix []byte) error {
	lt := h.rt.tls
	pc := stream.NewPrefixConn(h.c, prefix)
	tc := tls.Server(pc, lt.conf)
	_ = h.c.SetDeadline(time.Now().Add(h.gw.handshakeTimeout))
	ctx, cancel := context.WithTimeout(h.gw.ctx, h.gw.handshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	_ = h.c.SetDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	h.cc = tc
	h.tlsOn = true
	st := tc.ConnectionState()
	h.tlsVersion, h.tlsCipher = st.Version, st.CipherSuite
	return nil
}

// originateTLS runs the backend's TLS handshake on a dialed connection and
// reports the certificate status. With require = "trusted", anything but
// trusted is an error (the connection is closed).
func (h *conn) originateTLS(ctx context.Context, b *backend, srv *server, raw net.Conn) (net.Conn, tlsterm.Status, error) {
	tc, res, err := b.tls.Client(ctx, raw)
	if res.Status != "" {
		h.gw.observeBackendTLS(b.cfg.Name, srv.addr, string(res.Status))
	}
	if err != nil {
		var se *tlsterm.StatusError
		if errors.As(err, &se) {
			return nil, res.Status, fmt.Errorf("backend %q: %s: certificate %s: %w", b.cfg.Name, srv.addr, res.Status, err)
		}
		return nil, res.Status, fmt.Errorf("backend %q: %s: %w", b.cfg.Name, srv.addr, err)
	}
	return tc, res.Status, nil
}
