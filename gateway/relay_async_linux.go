package gateway

import (
	"errors"
	"net"
	"sync/atomic"
	"time"
)

// asyncRelay is the state of a relay whose directions park while idle
// (startRelay): nobody waits for it, so the last direction to end reports
// the result.
type asyncRelay struct {
	r        *relay
	park     *parker
	dirs     [2]*tcpDir // client→backend, backend→client
	up0      int64      // prefix bytes written before the directions started
	pending  atomic.Int32
	timer    *time.Timer // idle timeout: no deadline is armed while parked
	onDone   func(relayResult)
	finished atomic.Bool
}

// startRelay relays between two raw TCP sockets like runRelay, but holds no
// goroutine while the connection is idle: directions with nothing queued
// are handed to the parker. It returns as soon as the calling goroutine is
// no longer needed; onDone receives the result (both sockets closed) from
// whichever goroutine ends the relay.
//
// With framers (protocol xml) each direction frames NUL-terminated messages
// (up: client→backend, down: backend→client); the prefix is framed too.
func startRelay(client *net.TCPConn, prefix []byte, backend *net.TCPConn, idle time.Duration, p *parker,
	up, down *framer, started func(*relay), onDone func(relayResult)) {
	r := &relay{client: client, backend: backend, idle: idle}
	a := &asyncRelay{r: r, park: p, onDone: onDone}
	r.async = a
	r.touch()
	if started != nil {
		started(r)
	}
	if len(prefix) > 0 {
		end, ferr := len(prefix), error(nil)
		if up != nil {
			_, end, ferr = up.frame(prefix, 0, len(prefix))
		}
		n, err := backend.Write(prefix[:end])
		a.up0 = int64(n)
		if err != nil || ferr != nil {
			client.Close()
			backend.Close()
			reason := reasonBackendError
			if ferr != nil {
				reason, err = "client message over max_message", ferr
			}
			onDone(relayResult{Up: a.up0, Reason: reason, Err: err})
			return
		}
	}
	c2b := &direction{src: client, dst: backend, srcName: "client", dstName: "backend"}
	b2c := &direction{src: backend, dst: client, srcName: "backend", dstName: "client"}
	t1, err1 := r.newTCPDir(c2b, client, backend, p)
	t2, err2 := r.newTCPDir(b2c, backend, client, p)
	if err := errors.Join(err1, err2); err != nil {
		client.Close()
		backend.Close()
		onDone(relayResult{Up: a.up0, Reason: reasonClientError, Err: err})
		return
	}
	t1.f, t2.f = up, down
	a.dirs = [2]*tcpDir{t1, t2}
	a.pending.Store(2)
	if idle > 0 {
		a.timer = time.AfterFunc(idle, a.idleCheck)
	}
	// The caller's goroutine runs client→backend until it ends or parks
	// (after parkAfter of quiet, when its larger stack is given back):
	// one goroutine start less per connection.
	go t2.resume()
	t1.resume()
}

// endDir ends one direction: EOF is propagated as CloseWrite, anything else
// aborts the relay. The second direction to end completes the relay.
func (r *relay) endDir(d *direction, err error) {
	r.end(d, err)
	a := r.async
	if a.pending.Add(-1) == 0 {
		a.complete()
	}
}

// complete closes both sockets and reports the result, once.
func (a *asyncRelay) complete() {
	if !a.finished.CompareAndSwap(false, true) {
		return
	}
	if a.timer != nil {
		a.timer.Stop()
	}
	r := a.r
	r.client.Close()
	r.backend.Close()
	a.onDone(relayResult{Up: a.up0 + a.dirs[0].d.n, Down: a.dirs[1].d.n, Spliced: r.spliced.Load(),
		Reason: r.reason, Err: r.err})
}

// cancelParked takes back directions parked at the moment of an abort (their
// sockets are closed now, so no event will come) and ends them.
func (a *asyncRelay) cancelParked() {
	for _, t := range a.dirs {
		if t != nil && a.park.cancel(t) {
			a.r.endDir(t.d, net.ErrClosed)
		}
	}
}

// idleCheck is the idle timer: it aborts a relay that moved no byte for the
// idle timeout, or sleeps until it could have.
func (a *asyncRelay) idleCheck() {
	if a.finished.Load() {
		return
	}
	r := a.r
	since := time.Since(time.Unix(0, r.last.Load()))
	if since >= r.idle {
		r.abort(reasonIdle, errIdle)
		return
	}
	a.timer.Reset(r.idle - since)
}
