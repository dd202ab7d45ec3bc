package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminServer serves the admin endpoints on admin.address:
//
//	/metrics  Prometheus text (the gateway's own registry)
//	/status   JSON: listeners, backends and their health, certificates, udp
//	/healthz  "ok", or 503 "draining" while shutting down (no token needed)
//	/         the status page (HTML, refreshes itself every 5 s)
//
// With admin.token set, every endpoint but /healthz needs
// "Authorization: Bearer <token>"; anything else gets 401.
type adminServer struct {
	g       *Gateway
	address string // as configured
	ln      net.Listener
	srv     *http.Server
	token   atomic.Pointer[[32]byte] // sha256 of the token; nil: no token
	done    chan struct{}
}

// listenAdmin opens the admin socket for ac; start serves it.
func (g *Gateway) listenAdmin(ctx context.Context, ac *AdminConfig) (*adminServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", ac.Address)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %s: %w", ac.Address, err)
	}
	a := &adminServer{g: g, address: ac.Address, ln: ln, done: make(chan struct{})}
	a.setToken(ac.Token)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.Handle("GET /metrics", a.auth(promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{})))
	mux.Handle("GET /status", a.auth(http.HandlerFunc(a.statusJSON)))
	mux.Handle("GET /{$}", a.auth(http.HandlerFunc(a.page)))
	// Go's profiler, behind the same token: profile a live gateway with
	// go tool pprof http://ADMIN/debug/pprof/profile?seconds=10
	mux.Handle("GET /debug/pprof/", a.auth(http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", a.auth(http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", a.auth(http.HandlerFunc(pprof.Trace)))
	a.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          nil,
	}
	return a, nil
}

func (a *adminServer) setToken(token string) {
	if token == "" {
		a.token.Store(nil)
		return
	}
	sum := sha256.Sum256([]byte(token))
	a.token.Store(&sum)
}

// start serves until stop.
func (a *adminServer) start() {
	a.g.log.Info().Str("address", a.ln.Addr().String()).Bool("token", a.token.Load() != nil).Msg("admin listening")
	go func() {
		defer close(a.done)
		if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.g.log.Error().Err(err).Msg("admin server")
		}
	}()
}

// stop shuts the server down, letting requests in flight finish for a
// moment.
func (a *adminServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		a.srv.Close()
	}
	a.ln.Close()
}

// Addr is the admin server's bound address.
func (a *adminServer) Addr() net.Addr { return a.ln.Addr() }

// AdminAddr returns the bound address of the admin server, or nil.
func (g *Gateway) AdminAddr() net.Addr {
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.admin == nil {
		return nil
	}
	return g.admin.Addr()
}

// swapAdmin applies a reloaded admin block: next is a newly opened server
// (address changed) or nil. Called with reloadMu held.
func (g *Gateway) swapAdmin(ac *AdminConfig, next *adminServer) {
	old := g.admin
	switch {
	case ac == nil:
		g.admin = nil
	case next != nil:
		g.admin = next
		if g.running {
			next.start()
		}
	default:
		old.setToken(ac.Token)
		return
	}
	if old != nil {
		if g.running {
			go old.stop()
		} else {
			old.ln.Close()
		}
	}
}

// auth requires the bearer token when one is configured. Both sides are
// hashed first, so the comparison is constant-time whatever the lengths.
func (a *adminServer) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if want := a.token.Load(); want != nil {
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

func (a *adminServer) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if a.g.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (a *adminServer) statusJSON(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(a.g.status())
}

func (a *adminServer) page(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	if err := statusPage.Execute(&buf, a.g.status()); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(buf.Bytes())
}
