package upstream

import (
	"errors"
	"fmt"
	"net/netip"
)

// Dialing is one connection's way through a backend's servers: the
// candidates in balance order and, for a non-blocking dial, each one's
// addresses. The blocking Backend.Dial and an event loop's non-blocking
// connect both walk it, so failover, the health of servers, the count of
// dial errors and the early re-resolve of a failing host name are written
// once, here.
//
// A blocking dialer calls Next and dials Server.Addr (its resolver looks the
// name up); a non-blocking one calls NextAddr and connects to the address.
// Either then reports the attempt: Connected, Failed, or Stop. When Next or
// NextAddr reports none left, Err is the error to give the client's side.
// A Dialing is used by one goroutine at a time.
type Dialing struct {
	b      *Backend
	cands  []*Server
	ci     int            // current candidate
	ai     int            // its next address (NextAddr)
	cur    *Server        // the server of the attempt in flight
	ap     netip.AddrPort // the address of the attempt in flight (NextAddr)
	byAddr bool           // the attempt in flight came from NextAddr
	last   error          // the last failure, recorded on the server once all its addresses failed
	errs   []error
	done   bool
}

// StartDial begins a dial: the servers are taken in Candidates order.
func (b *Backend) StartDial() Dialing {
	return Dialing{b: b, cands: b.Candidates()}
}

// Next returns the next server to dial by its configured address, or false
// when none is left.
func (d *Dialing) Next() (*Server, bool) {
	if d.done || d.ci >= len(d.cands) {
		return nil, false
	}
	d.cur, d.byAddr = d.cands[d.ci], false
	return d.cur, true
}

// NextAddr returns the next address to connect to, and its server, or false
// when none is left. A server's addresses (Server.Addrs) are tried in order,
// as Go's dialer does; when every one has failed, or the server has none,
// the server is marked down and counted as a dial error, and a host name is
// looked up again soon (it may point elsewhere by now).
func (d *Dialing) NextAddr() (*Server, netip.AddrPort, bool) {
	for !d.done && d.ci < len(d.cands) {
		s := d.cands[d.ci]
		addrs := s.Addrs()
		if d.ai < len(addrs) {
			d.cur, d.ap, d.byAddr = s, addrs[d.ai], true
			return s, d.ap, true
		}
		if len(addrs) == 0 {
			d.last = errors.New("no address resolved")
			d.errs = append(d.errs, fmt.Errorf("dial backend %s: %w", s.addr, d.last))
		}
		d.serverFailed(s, d.last)
		d.ci, d.ai = d.ci+1, 0
	}
	return nil, netip.AddrPort{}, false
}

// Failed reports that the attempt in flight failed with err (a refused or
// timed-out connect). After Next, the server is marked down and counted at
// once; after NextAddr, once all of its addresses have failed.
func (d *Dialing) Failed(err error) {
	s := d.cur
	if s == nil {
		return
	}
	if !d.byAddr {
		d.errs = append(d.errs, fmt.Errorf("dial backend %s: %w", s.addr, err))
		d.serverFailed(s, err)
		d.ci++
		d.cur = nil
		return
	}
	if s.host != "" {
		err = fmt.Errorf("dial backend %s (%s): %w", s.addr, d.ap, err)
	} else {
		err = fmt.Errorf("dial backend %s: %w", s.addr, err)
	}
	d.last = err
	d.errs = append(d.errs, err)
	d.ai++
	d.cur = nil
}

// Stop ends the dial after the attempt in flight failed for a reason that
// is not the server's (the caller gave up): err is kept for Err, nothing is
// marked or counted, and Next and NextAddr report none left.
func (d *Dialing) Stop(err error) {
	if d.cur != nil {
		err = fmt.Errorf("dial backend %s: %w", d.cur.addr, err)
	}
	d.errs = append(d.errs, err)
	d.done, d.cur = true, nil
}

// Connected reports that the attempt in flight succeeded: its server is
// marked up and counts one more open connection, which the caller ends
// with Server.Release. It returns that server.
func (d *Dialing) Connected() *Server {
	s := d.cur
	s.Acquire()
	s.Succeeded()
	d.cands, d.errs, d.cur, d.done = nil, nil, nil, true
	return s
}

// Err is the error of a dial that reached no server: it wraps ErrNoBackend
// and each attempt's error.
func (d *Dialing) Err() error {
	if len(d.errs) == 0 { // nothing was tried: no server, or none with an address
		return fmt.Errorf("backend %q: %w: no server to dial", d.b.cfg.Name, ErrNoBackend)
	}
	return fmt.Errorf("backend %q: %w: %w", d.b.cfg.Name, ErrNoBackend, errors.Join(d.errs...))
}

// serverFailed marks s down after every address of it failed with err.
func (d *Dialing) serverFailed(s *Server, err error) {
	if s.host != "" {
		d.b.ResolveSoon() // the name may point elsewhere by now
	}
	s.Failed(err, false)
	if d.b.dialErrors != nil {
		d.b.dialErrors.Inc()
	}
}
