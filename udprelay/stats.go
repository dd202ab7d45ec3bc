package udprelay

import (
	"net/netip"
	"sort"
	"time"
)

// Stats is a snapshot of a relay's counters. "In" is client → backend, "Out"
// is backend → client. Every counter is atomic, so Stats is cheap enough to
// call on every metrics scrape.
type Stats struct {
	SessionsActive  int64 // sessions now open
	SessionsTotal   int64 // sessions opened since New
	SessionsRefused int64 // datagrams from new clients refused at MaxSessions

	DatagramsIn  uint64 // relayed client → backend
	BytesIn      uint64
	DatagramsOut uint64 // relayed backend → client
	BytesOut     uint64

	DropsOversize     uint64 // over MaxDatagram, either way
	DropsBackendError uint64 // backend refused (ICMP unreachable), dial or write failed
	DropsFull         uint64 // a kernel socket buffer was full (ENOBUFS/EAGAIN)
	DropsOther        uint64 // other write errors towards clients

	BackendFailovers uint64 // sessions moved to the next backend
	ReadErrors       uint64 // transient errors reading the listening socket
}

// Stats returns the current counters.
func (r *Relay) Stats() Stats {
	return Stats{
		SessionsActive:    r.c.active.Load(),
		SessionsTotal:     r.c.total.Load(),
		SessionsRefused:   r.c.refused.Load(),
		DatagramsIn:       r.c.dgramsIn.Load(),
		BytesIn:           r.c.bytesIn.Load(),
		DatagramsOut:      r.c.dgramsOut.Load(),
		BytesOut:          r.c.bytesOut.Load(),
		DropsOversize:     r.c.oversize.Load(),
		DropsBackendError: r.c.backendErr.Load(),
		DropsFull:         r.c.full.Load(),
		DropsOther:        r.c.other.Load(),
		BackendFailovers:  r.c.failovers.Load(),
		ReadErrors:        r.c.readErrors.Load(),
	}
}

// SessionInfo describes one open session, for the admin page.
type SessionInfo struct {
	Client       netip.AddrPort
	Backend      string // as configured
	DatagramsIn  uint64
	BytesIn      uint64
	DatagramsOut uint64
	BytesOut     uint64
	Started      time.Time
	Age          time.Duration
	Idle         time.Duration // since the last datagram either way
}

// Sessions lists the open sessions, oldest first.
func (r *Relay) Sessions() []SessionInfo {
	r.mu.Lock()
	all := make([]*session, 0, len(r.sessions))
	for _, s := range r.sessions {
		all = append(all, s)
	}
	r.mu.Unlock()
	now, wall := r.now(), time.Now()
	out := make([]SessionInfo, 0, len(all))
	for _, s := range all {
		out = append(out, SessionInfo{
			Client:       s.client,
			Backend:      r.names[s.bc.Load().idx],
			DatagramsIn:  s.dgramsIn.Load(),
			BytesIn:      s.bytesIn.Load(),
			DatagramsOut: s.dgramsOut.Load(),
			BytesOut:     s.bytesOut.Load(),
			Started:      s.started,
			Age:          wall.Sub(s.started),
			Idle:         time.Duration(now - s.last.Load()),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}
