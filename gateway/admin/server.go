// Package admin serves flashgate's admin endpoints: /metrics (Prometheus),
// /status (JSON), /status/history, /healthz and the human status page with
// its charts of the last hour, plus Go's profiler when asked for.
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
	// Pprof serves Go's profiler under /debug/pprof/ (behind the token like
	// the rest); false: those paths are 404.
	Pprof   bool
	Source  Source
	Metrics *Metrics
	Log     zerolog.Logger
	// SampleInterval is how often the charts' history is sampled; 0 means
	// DefaultSampleInterval. HistorySamples are kept whatever it is.
	SampleInterval time.Duration
}

// Server serves the admin endpoints on one address:
//
//	/metrics         Prometheus text (the Metrics' own registry)
//	/status          JSON: version, listeners, backends and their health, certificates, udp
//	/status/history  JSON: the charts' samples of the last hour, oldest first
//	/healthz         "ok", or 503 "draining" while shutting down (no token needed)
//	/                the status page (HTML with SVG charts, refreshes itself every 5 s)
//	/debug/pprof/    Go's profiler, only with Config.Pprof
//
// With a token set, every endpoint but /healthz needs
// "Authorization: Bearer <token>" or HTTP Basic with the token as the
// password (any user name, so a browser can open the page); anything else
// gets 401 with both challenges.
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

	build    Build
	metrics  *Metrics
	history  *ring
	interval time.Duration      // between samples
	life     context.Context    // the sampler's: ended by Stop or Close
	cancel   context.CancelFunc // ends life
	sampled  chan struct{}      // closed when the sampler returns, once started
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
		return nil, fmt.Errorf("admin: %w", err) // "listen tcp ADDRESS: …" already
	}
	interval := cfg.SampleInterval
	if interval <= 0 {
		interval = DefaultSampleInterval
	}
	s := &Server{address: cfg.Address, src: cfg.Source, log: cfg.Log, page: page, ln: ln, done: make(chan struct{}),
		build: cfg.Metrics.build, metrics: cfg.Metrics, history: newRing(HistorySamples), interval: interval,
		sampled: make(chan struct{})}
	s.life, s.cancel = context.WithCancel(context.Background())
	s.SetToken(cfg.Token)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", s.auth(promhttp.HandlerFor(cfg.Metrics.reg, promhttp.HandlerOpts{})))
	mux.Handle("GET /status", s.auth(http.HandlerFunc(s.statusJSON)))
	mux.Handle("GET /status/history", s.auth(http.HandlerFunc(s.historyJSON)))
	mux.Handle("GET /{$}", s.auth(http.HandlerFunc(s.statusPage)))
	if cfg.Pprof {
		// Go's profiler, behind the same token: profile a live gateway with
		// go tool pprof http://ADMIN/debug/pprof/profile?seconds=10
		mux.Handle("GET /debug/pprof/", s.auth(http.HandlerFunc(pprof.Index)))
		mux.Handle("GET /debug/pprof/profile", s.auth(http.HandlerFunc(pprof.Profile)))
		mux.Handle("GET /debug/pprof/trace", s.auth(http.HandlerFunc(pprof.Trace)))
	}
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
		defer close(s.sampled)
		sampler(s.life, s.metrics, s.history, s.interval)
	}()
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
	s.stopSampler()
}

// stopSampler ends the sampler, if started, and waits for it and Serve.
func (s *Server) stopSampler() {
	s.cancel()
	if !s.started.Load() {
		return
	}
	<-s.sampled
	<-s.done
}

// Close closes the socket and any connection at once.
func (s *Server) Close() error {
	err := s.srv.Close()
	if cerr := s.ln.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	s.stopSampler()
	if err != nil {
		return fmt.Errorf("admin: close %s: %w", s.address, err)
	}
	return nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Address is the address as configured (before binding: a port 0 stays 0).
func (s *Server) Address() string { return s.address }

// auth requires the token when one is configured, as a bearer token or as
// the password of HTTP Basic (any user name). Both sides are hashed first,
// so the comparison is constant-time whatever the lengths.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want := s.token.Load(); want != nil {
			got, ok := presented(r)
			sum := sha256.Sum256([]byte(got))
			if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok {
				w.Header().Add("WWW-Authenticate", `Basic realm="flashgate"`)
				w.Header().Add("WWW-Authenticate", `Bearer realm="flashgate"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// presented returns the token a request carries: "Bearer TOKEN" (the
// scheme in any case) or HTTP Basic's password.
func presented(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	if strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(rest), true
	}
	_, password, ok := r.BasicAuth()
	return password, ok
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
	if st.Version == "" {
		st.Version = s.build.String()
	}
	return st
}

func (s *Server) historyJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(History{IntervalSeconds: s.interval.Seconds(), Samples: s.history.samples()})
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
	st := s.status()
	data := pageData{Status: st, RefreshSeconds: int(pageRefresh / time.Second), Charts: charts(s.history.samples(), st.Time), SampleSeconds: s.interval.Seconds()}
	if err := s.page.Execute(&buf, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(buf.Bytes())
}
