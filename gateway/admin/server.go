// Package admin serves flashgate's admin endpoints: /metrics (Prometheus),
// /status (JSON), /healthz and the human status page, plus Go's profiler.
// It knows nothing of the gateway: it holds the metric registry and the
// handles the engines count through (Metrics, ListenerMetrics, UDPMetrics),
// and reads everything else through a Source.
//
// Typical use:
//
//	m := admin.NewMetrics(admin.MetricsOptions{Kinds: kinds, Gauges: src})
//	lm := m.Listener("chat") // count with lm.Connection, lm.PolicyServed
//	s, err := admin.Listen(ctx, admin.Config{Address: "127.0.0.1:9843", Source: src, Metrics: m, Log: log})
//	if err != nil { ... }
//	s.Start()
//	defer s.Stop()
package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Source is what the admin server reads from the gateway.
type Source interface {
	// Status returns a fresh status document; the server calls Tally on it.
	Status() *Status
	// Draining reports a shutdown in progress: /healthz then answers 503.
	Draining() bool
}

// Config configures Listen.
type Config struct {
	Address string // host:port to listen on
	Token   string // optional: every endpoint but /healthz then needs it
	Source  Source
	Metrics *Metrics
	Log     zerolog.Logger
}

// Server serves the admin endpoints on one address:
//
//	/metrics  Prometheus text (the Metrics' own registry)
//	/status   JSON: listeners, backends and their health, certificates, udp
//	/healthz  "ok", or 503 "draining" while shutting down (no token needed)
//	/         the status page (HTML, refreshes itself every 5 s)
//
// With a token set, every endpoint but /healthz needs
// "Authorization: Bearer <token>"; anything else gets 401.
type Server struct {
	address string // as configured
	src     Source
	log     zerolog.Logger
	page    *template.Template
	ln      net.Listener
	srv     *http.Server
	token   atomic.Pointer[[32]byte] // sha256 of the token; nil: no token
	started atomic.Bool
	done    chan struct{} // closed when Serve returns, once started
}

// Listen opens the admin socket for cfg; Start serves it.
func Listen(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Source == nil || cfg.Metrics == nil {
		return nil, errors.New("admin: Listen needs a Source and Metrics")
	}
	page, err := newPage(cfg.Metrics.kinds)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %s: %w", cfg.Address, err)
	}
	s := &Server{address: cfg.Address, src: cfg.Source, log: cfg.Log, page: page, ln: ln, done: make(chan struct{})}
	s.SetToken(cfg.Token)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(cfg.Metrics.reg, promhttp.HandlerOpts{})))
	mux.Handle("GET /status", s.auth(http.HandlerFunc(s.statusJSON)))
	mux.Handle("GET /{$}", s.auth(http.HandlerFunc(s.statusPage)))
	// Go's profiler, behind the same token: profile a live gateway with
	// go tool pprof http://ADMIN/debug/pprof/profile?seconds=10
	mux.Handle("GET /debug/pprof/", s.auth(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", s.auth(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", s.auth(http.HandlerFunc(pprof.Trace)))
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	return s, nil
}

// SetToken replaces the token ("" for none); requests after it use the new
// one.
func (s *Server) SetToken(token string) {
	if token == "" {
		s.token.Store(nil)
		return
	}
	sum := sha256.Sum256([]byte(token))
	s.token.Store(&sum)
}

// Start serves in a goroutine until Stop or Close.
func (s *Server) Start() {
	if !s.started.CompareAndSwap(false, true) {
		return
	}
	s.log.Info().Str("address", s.ln.Addr().String()).Bool("token", s.token.Load() != nil).Msg("admin listening")
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error().Err(err).Msg("admin server")
		}
	}()
}

// Stop shuts the server down, letting requests in flight finish for a
// moment (2 s), then closes what is left.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	_ = s.ln.Close()
	if s.started.Load() {
		<-s.done
	}
}

// Close closes the socket and any connection at once.
func (s *Server) Close() error {
	err := s.srv.Close()
	if cerr := s.ln.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("admin: close %s: %w", s.address, err)
	}
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Address is the address as configured (before binding: a port 0 stays 0).
func (s *Server) Address() string { return s.address }

// auth requires the bearer token when one is configured. Both sides are
// hashed first, so the comparison is constant-time whatever the lengths.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want := s.token.Load(); want != nil {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="flashgate"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if s.src.Draining() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// status asks the source for a document and tallies it.
func (s *Server) status() *Status {
	st := s.src.Status()
	if st == nil {
		st = &Status{}
	}
	st.Tally()
	return st
}

func (s *Server) statusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(s.status())
}

func (s *Server) statusPage(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	data := pageData{Status: s.status(), RefreshSeconds: int(pageRefresh / time.Second)}
	if err := s.page.Execute(&buf, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(buf.Bytes())
}
