package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"time"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/udprelay"
)

// udpSyncEvery is how often a UDP relay's counters are copied into the
// metrics; /metrics lags the relay by at most this much.
const udpSyncEvery = time.Second

// udpBlock is one running udp block: its socket (kept across reloads while
// the address stays), its relay and the metrics it feeds.
type udpBlock struct {
	cfg      *config.UDP
	backends []string
	conn     *net.UDPConn
	relay    *udprelay.Relay
	metrics  *UDPMetrics
	last     udprelay.Stats // counters already copied into metrics
	stop     context.CancelFunc
	done     chan struct{}
	syncOnce sync.Mutex
}

// udpConfig maps a udp block and its backend's addresses to udprelay.
func udpConfig(cfg *config.Config, uc *config.UDP) (udprelay.Config, []string, error) {
	bc := cfg.Backend(uc.Backend)
	if bc == nil {
		return udprelay.Config{}, nil, fmt.Errorf("udp %q: backend %q is not defined", uc.Name, uc.Backend)
	}
	if len(bc.Address) == 0 {
		return udprelay.Config{}, nil, fmt.Errorf("udp %q: backend %q has no address (builtin backends are TCP only)", uc.Name, uc.Backend)
	}
	return udprelay.Config{Name: uc.Name, Listen: uc.Address, Backends: bc.Address,
		IdleTimeout: uc.IdleTimeout, MaxDatagram: uc.MaxDatagram, MaxSessions: uc.MaxSessions}, bc.Address, nil
}

// listenUDP binds a udp block's socket.
func listenUDP(address string) (*net.UDPConn, error) {
	la, err := net.ResolveUDPAddr("udp", address)
	if err != nil {
		return nil, fmt.Errorf("udp address %s: %w", address, err)
	}
	c, err := net.ListenUDP("udp", la)
	if err != nil {
		return nil, err // "listen udp ADDRESS: …" already
	}
	return c, nil
}

// newUDPBlock builds the relay of uc on conn (bound by the caller).
func (g *Gateway) newUDPBlock(cfg *config.Config, uc *config.UDP, conn *net.UDPConn) (*udpBlock, error) {
	rc, backends, err := udpConfig(cfg, uc)
	if err != nil {
		return nil, err
	}
	r, err := udprelay.NewWithConn(rc, conn, g.log.With().Str("udp", uc.Name).Logger())
	if err != nil {
		return nil, err
	}
	return &udpBlock{cfg: uc, backends: backends, conn: conn, relay: r,
		metrics: g.udpMetrics(uc.Name, conn.LocalAddr().String())}, nil
}

// openUDP binds and builds every udp block of cfg; on error nothing stays open.
func (g *Gateway) openUDP(cfg *config.Config) (map[string]*udpBlock, error) {
	blocks := make(map[string]*udpBlock, len(cfg.UDP))
	for _, uc := range cfg.UDP {
		conn, err := listenUDP(uc.Address)
		if err == nil {
			var b *udpBlock
			if b, err = g.newUDPBlock(cfg, uc, conn); err == nil {
				blocks[uc.Name] = b
				continue
			}
			conn.Close()
		}
		for _, b := range blocks {
			b.conn.Close()
		}
		return nil, fmt.Errorf("udp %q: %w", uc.Name, err)
	}
	return blocks, nil
}

// start runs the block's relay and its metrics sync until stopped.
func (b *udpBlock) start(log func(error)) {
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	b.done = make(chan struct{})
	go func() {
		defer close(b.done)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(udpSyncEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					b.sync()
				}
			}
		}()
		if err := b.relay.Serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log(err)
		}
		cancel()
		wg.Wait()
		b.sync()
	}()
}

// halt stops the relay (ending its sessions) and waits; the socket stays
// open for a successor unless closeConn.
func (b *udpBlock) halt(closeConn bool) {
	if b.stop != nil {
		b.stop()
		<-b.done
	} else {
		_ = b.relay.Close()
	}
	if closeConn {
		b.conn.Close()
	}
}

// sync copies the relay's counters into the metrics.
func (b *udpBlock) sync() {
	b.syncOnce.Lock()
	defer b.syncOnce.Unlock()
	st := b.relay.Stats()
	m, last := b.metrics, b.last
	m.SetSessions(int(st.SessionsActive))
	m.Datagram(true, int(st.DatagramsIn-last.DatagramsIn))
	m.Datagram(false, int(st.DatagramsOut-last.DatagramsOut))
	for _, d := range []struct {
		reason   string
		now, was uint64
	}{
		{"max_datagram", st.DropsOversize, last.DropsOversize},
		{"backend_error", st.DropsBackendError, last.DropsBackendError},
		{"max_sessions", uint64(st.SessionsRefused), uint64(last.SessionsRefused)},
		{"buffer_full", st.DropsFull, last.DropsFull},
		{"other", st.DropsOther, last.DropsOther},
	} {
		if d.now > d.was {
			m.drops.WithLabelValues(m.name, d.reason).Add(float64(d.now - d.was))
		}
	}
	b.last = st
}

// sameRelay reports whether a reloaded block can keep the running relay and
// its sessions: nothing it depends on changed.
func (b *udpBlock) sameRelay(cfg *config.Config, uc *config.UDP) bool {
	_, backends, err := udpConfig(cfg, uc)
	return err == nil && reflect.DeepEqual(*b.cfg, *uc) && reflect.DeepEqual(b.backends, backends)
}

// reloadUDP applies cfg's udp blocks: unchanged blocks keep their relay and
// sessions; a changed block on the same address gets a new relay on the
// same socket (its sessions end); new blocks bind; removed blocks close. It
// runs under reloadMu after the TCP side is committed.
func (g *Gateway) reloadUDP(cfg *config.Config, running bool) error {
	g.mu.Lock()
	old := g.udpBlocks
	g.mu.Unlock()
	next := make(map[string]*udpBlock, len(cfg.UDP))
	var errs []error
	byAddr := map[string]*udpBlock{}
	for _, b := range old {
		byAddr[b.cfg.Address] = b
	}
	used := map[*udpBlock]bool{}
	for _, uc := range cfg.UDP {
		if b := old[uc.Name]; b != nil && b.sameRelay(cfg, uc) {
			b.cfg = uc
			next[uc.Name] = b
			used[b] = true
			continue
		}
		var conn *net.UDPConn
		if b := byAddr[uc.Address]; b != nil && !used[b] {
			b.halt(false)
			used[b] = true
			conn = b.conn
		} else {
			c, err := listenUDP(uc.Address)
			if err != nil {
				errs = append(errs, fmt.Errorf("reload: udp %q: %w", uc.Name, err))
				continue
			}
			conn = c
		}
		nb, err := g.newUDPBlock(cfg, uc, conn)
		if err != nil {
			conn.Close()
			errs = append(errs, fmt.Errorf("reload: udp %q: %w", uc.Name, err))
			continue
		}
		if running {
			nb.start(g.udpError(uc.Name))
		}
		next[uc.Name] = nb
	}
	for _, b := range old {
		if !used[b] {
			b.halt(true)
		}
	}
	g.mu.Lock()
	g.udpBlocks = next
	g.mu.Unlock()
	return errors.Join(errs...)
}

// udpError logs a relay that stopped with an error.
func (g *Gateway) udpError(name string) func(error) {
	return func(err error) { g.log.Error().Str("udp", name).Err(err).Msg("udp relay stopped") }
}

// startUDP starts every udp block (Run).
func (g *Gateway) startUDP() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for name, b := range g.udpBlocks {
		b.start(g.udpError(name))
		ev := g.log.Info().Str("udp", name).Str("address", b.conn.LocalAddr().String())
		if uc := g.udpConfig(name); uc != nil {
			ev = ev.Str("backend", uc.Backend).Int("max_sessions", uc.MaxSessions)
		}
		ev.Msg("listening")
	}
}

// stopUDP ends every UDP relay and closes its socket (shutdown).
func (g *Gateway) stopUDP() {
	g.mu.Lock()
	blocks := g.udpBlocks
	g.udpBlocks = nil
	g.mu.Unlock()
	for _, b := range blocks {
		b.halt(true)
	}
}

// UDPAddr returns the bound address of the named udp block, or nil.
func (g *Gateway) UDPAddr(name string) net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if b := g.udpBlocks[name]; b != nil {
		return b.conn.LocalAddr()
	}
	return nil
}
