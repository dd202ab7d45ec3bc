package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// evConn is one connection relayed by an event loop. All of it belongs to
// the loop's goroutine; other goroutines reach it through the loop's task
// queue (abort).
type evConn struct {
	h    *conn
	loop *evLoop
	tok  uint64
	hi   int   // index + 1 in the loop's timer heap (0: no timer)
	when int64 // unixnano: the timer's deadline

	cfd, bfd int // -1 once closed

	state    uint8
	kind     Kind  // what the summary reports: raw, or what sniffing found
	sn       int   // bytes sniffed into h.buf
	sniffEnd int64 // unixnano: sniff_timeout while sniffing (0: none)
	proxyEnd int64 // unixnano: the PROXY header's deadline
	px       *evProxyBuf
	hdrLen   int64     // bytes of the backend's PROXY header in up.n
	cands    []*server // dial order, while dialing
	ci       int       // the server being dialed
	ai       int       // its address being dialed
	dialAP   netip.AddrPort
	lastErr  error
	dialing  *server
	dialErrs []error
	deadline int64 // unixnano: the connect timeout while dialing
	idle     int64 // idle timeout, ns (0: none)
	last     int64 // unixnano of the last byte moved either way

	cr, cw, br, bw bool // readiness: client/backend readable, writable
	chup, bhup     bool // a hang-up was reported: read until EOF
	cerr, berr     bool // an error was reported (a reset): check it when the socket is not read
	up, down       evDir
	reason         string
	err            error
	ended          bool
	more           bool // a direction stopped at evBudget with bytes still queued
	queued         bool // in the loop's again list
}

// evBudget bounds the bytes one direction moves per turn, so a connection
// streaming bulk data cannot starve the others of its loop. A direction
// that stops at the budget is turned again after the loop's other events
// (with edge-triggered readiness no new event would come for it).
const evBudget = 1 << 20

// evConn states.
const (
	evNew       = iota // accepted (transparent) or sniffed as data: the loop dials next
	evProxy            // reading the client's PROXY header
	evSniffing         // reading the first bytes (multiplexed listeners)
	evAnswering        // writing the policy answer
	evResolving        // the backend's host names are not resolved yet: wait, within connect_timeout
	evDialing          // a connect is in progress to cands[ci]
	evRelaying         // both sockets open
)

// evDir is one direction's state. Bytes read are written on at once; only
// what the destination did not take waits in a pooled buffer, and bulk data
// moves through a pooled pipe, so an idle direction holds neither.
type evDir struct {
	name   string // "client" or "backend": the source
	pend   *[]byte
	off    int // pending bytes are (*pend)[off:end]
	end    int
	pipe   *pipe
	inPipe int
	bulk   bool
	eof    bool // the source reached EOF
	done   bool // EOF passed on (or the relay ends)
	n      int64
	splice int64
	f      *framer // protocol xml: NUL-framed messages (no splice then)
	ferr   error   // over max_message: ends the relay once the bytes before it are out
}

func (d *evDir) pending() bool { return d.end > d.off || d.inPipe > 0 }

// newEvConn prepares a connection on an accepted client socket.
func newEvConn(h *conn, loop *evLoop, cfd int) *evConn {
	e := &evConn{h: h, loop: loop, cfd: cfd, bfd: -1, cw: true, kind: KindRaw}
	e.up.name, e.down.name = "client", "backend"
	cfg := h.rt.cfg
	e.idle = int64(cfg.IdleTimeout)
	if !h.rt.transparent() {
		e.state, e.kind = evSniffing, KindUnknown
		if cfg.SniffTimeout > 0 {
			e.sniffEnd = h.start.Add(cfg.SniffTimeout).UnixNano()
		}
	}
	if cfg.ProxyProtocol != "" {
		e.state = evProxy
		e.proxyEnd = h.start.Add(proxyHeaderTimeout).UnixNano()
	}
	return e
}

// evResolvePoll is how often a connection waiting for its backend's host
// names looks again.
const evResolvePoll = int64(10 * time.Millisecond)

// deadlineNow is the deadline of e's current state (unixnano, 0: none).
func (e *evConn) deadlineNow() int64 {
	switch e.state {
	case evProxy:
		return e.proxyEnd
	case evSniffing:
		return e.sniffEnd
	case evDialing:
		return e.deadline
	case evResolving:
		return min(e.deadline, e.last+evResolvePoll)
	case evRelaying, evAnswering:
		if e.idle > 0 {
			return e.last + e.idle
		}
	}
	return 0
}

// due reports whether e's timer should act now.
func (e *evConn) due(now int64) bool {
	d := e.deadlineNow()
	return d > 0 && now >= d
}

// expire acts on a passed timeout.
func (e *evConn) expire(now int64) {
	if e.ended || !e.due(now) {
		return
	}
	switch e.state {
	case evProxy:
		e.proxyTimedOut()
	case evSniffing:
		// Silence, or a prefix the sniffer could not place: data.
		kind := KindData
		if e.sn == 0 {
			kind = KindSilent
		}
		e.decide(kind, now)
	case evResolving:
		e.last = now
		e.toBackend(now)
	case evDialing:
		e.dialFailed(os.ErrDeadlineExceeded, now)
	case evRelaying, evAnswering:
		e.fail(reasonIdle, errIdle)
	}
}

// abort ends the connection from another goroutine (conn.shutdown): the
// loop ends it and reports the reason conn.shutdown recorded.
func (e *evConn) abort() {
	e.loop.push(evTask{op: opAbort, e: e})
}

// refuse ends a connection the loop will not take (it is closing).
func (e *evConn) refuse() {
	e.ended = true
	sysClose(e.cfd)
	e.cfd = -1
	e.h.finish(summary{kind: KindRaw, res: relayResult{Reason: reasonShutdown}})
}

// event handles readiness reported for one side.
func (e *evConn) event(side int, ev uint32, now int64) {
	if e.ended {
		return
	}
	in := ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	hup := ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	out := ev&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0
	bad := ev&unix.EPOLLERR != 0
	if side == sideClient {
		e.cr = e.cr || in
		e.chup = e.chup || hup
		e.cerr = e.cerr || bad
		e.cw = e.cw || out
	} else {
		e.br = e.br || in
		e.bhup = e.bhup || hup
		e.berr = e.berr || bad
		e.bw = e.bw || out
	}
	switch e.state {
	case evProxy:
		e.readProxy(now)
	case evSniffing:
		e.sniff(now)
	case evNew:
		e.toBackend(now)
	case evAnswering:
		e.answer()
	case evDialing:
		if side == sideBackend && out {
			e.connected(now)
		}
	case evRelaying:
		e.pump(now)
	}
	e.requeue()
	e.loop.arm(e, false)
}

// requeue puts e on its loop's again list when a direction stopped at the
// budget.
func (e *evConn) requeue() {
	if e.more && !e.ended && !e.queued {
		e.queued = true
		e.loop.again = append(e.loop.again, e)
	}
}

// toBackend starts the way to the backend: its PROXY header (if it wants
// one) goes in front of the bytes waiting for it, then the dial.
func (e *evConn) toBackend(now int64) {
	if !e.h.rt.backend.loopReady() {
		// A host name not resolved yet: wait in the loop, looking again
		// every evResolvePoll, within connect_timeout.
		if e.state != evResolving {
			e.state, e.last = evResolving, now
			e.deadline = now + int64(e.h.rt.backend.timeout())
			return
		}
		if now >= e.deadline {
			e.up.n += int64(e.up.end - e.up.off) // the sniffed bytes count as read
			b := e.h.rt.backend
			var errs []error
			for _, s := range b.servers {
				if len(s.addrs()) == 0 {
					errs = append(errs, fmt.Errorf("dial backend %s: host name not resolved within connect_timeout", s.addr))
				}
			}
			err := fmt.Errorf("backend %q: %w: %w", b.cfg.Name, ErrNoBackend, errors.Join(errs...))
			e.finish("backend unreachable", err)
		}
		return
	}
	e.backendProxyHeader()
	e.state = evNew
	e.dial(now)
}

// dial starts dialing the backend's servers in balance order.
func (e *evConn) dial(now int64) {
	e.cands = e.h.rt.backend.candidates()
	e.dialNext(now)
}

// dialNext starts a connect to the next candidate, or ends the connection
// when none is left.
func (e *evConn) dialNext(now int64) {
	b := e.h.rt.backend
	for e.ci < len(e.cands) {
		s := e.cands[e.ci]
		e.dialing = s
		addrs := s.addrs()
		if e.ai >= len(addrs) {
			// Every address of s failed (a host name may have several,
			// tried in order as Go's dialer does): s is down.
			if len(addrs) == 0 {
				e.lastErr = errors.New("no address resolved")
				e.dialErrs = append(e.dialErrs, fmt.Errorf("dial backend %s: %w", s.addr, e.lastErr))
			}
			if s.host != "" {
				b.resolveSoon() // the name may point elsewhere by now
			}
			s.failed(e.lastErr, false)
			if b.dialErrors != nil {
				b.dialErrors.Inc()
			}
			e.ci, e.ai = e.ci+1, 0
			continue
		}
		e.dialAP = addrs[e.ai]
		fd, err := connectNonblock(e.dialAP)
		if err != nil {
			e.attemptFailed(err)
			continue
		}
		e.bfd = fd
		if err := e.loop.register(fd, e.tok<<1|sideBackend); err != nil {
			e.fail(reasonBackendError, err)
			return
		}
		e.state = evDialing
		e.deadline = now + int64(b.timeout())
		return
	}
	e.up.n += int64(e.up.end - e.up.off) // the sniffed bytes count as read
	err := fmt.Errorf("backend %q: %w: %w", b.cfg.Name, ErrNoBackend, errors.Join(e.dialErrs...))
	e.finish("backend unreachable", err)
}

// attemptFailed records a failed connect to the current address; dialNext
// goes on with the server's next address, or the next server.
func (e *evConn) attemptFailed(err error) {
	s := e.dialing
	if s.host != "" {
		err = fmt.Errorf("dial backend %s (%s): %w", s.addr, e.dialAP, err)
	} else {
		err = fmt.Errorf("dial backend %s: %w", s.addr, err)
	}
	e.lastErr = err
	e.dialErrs = append(e.dialErrs, err)
	e.ai++
}

// connectNonblock opens a non-blocking socket and starts a connect.
func connectNonblock(ap netip.AddrPort) (int, error) {
	family := unix.AF_INET
	if !ap.Addr().Is4() {
		family = unix.AF_INET6
	}
	fd, err := sysSocket(family)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	// Relayed messages go out as they come, as with Go's own dials.
	if err := sysSetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		sysClose(fd)
		return -1, os.NewSyscallError("setsockopt", err)
	}
	if err := sysConnect(fd, ap); err != nil && err != unix.EINPROGRESS && err != unix.EINTR {
		sysClose(fd)
		return -1, os.NewSyscallError("connect", err)
	}
	return fd, nil
}

// connected checks a finished connect: relay on success, fail over on error.
func (e *evConn) connected(now int64) {
	soerr, err := sysSoError(e.bfd)
	if err == nil && soerr != 0 {
		err = os.NewSyscallError("connect", unix.Errno(soerr))
	}
	if err != nil {
		e.dialFailed(err, now)
		return
	}
	s := e.dialing
	s.active.Add(1)
	s.succeeded()
	e.h.srv = s // released in finish
	e.cands, e.dialErrs = nil, nil
	e.state = evRelaying
	e.last = now
	e.pump(now)
}

// dialFailed closes the failed attempt and tries the next server.
func (e *evConn) dialFailed(err error, now int64) {
	e.closeBackend()
	e.br, e.bw, e.bhup, e.berr = false, false, false, false
	e.attemptFailed(err)
	e.dialNext(now)
}

// detach takes the connection off its loop before any backend socket
// exists and returns the client socket, now the caller's.
func (e *evConn) detach() int {
	e.ended = true
	e.loop.remove(e)
	fd := e.cfd
	e.cfd = -1
	return fd
}

func (e *evConn) closeBackend() {
	if e.bfd >= 0 {
		sysClose(e.bfd)
		e.bfd = -1
	}
}

// pump moves what both directions can move now, then settles their ends.
func (e *evConn) pump(now int64) {
	e.more = false
	// A socket that reported an error while its direction waits for the
	// other socket is not read, so its reset would go unnoticed until
	// idle_timeout: look at it now.
	if e.cerr && e.up.pending() && !e.bw && e.reset(e.cfd, e.bfd, &e.up) {
		return
	}
	if e.berr && e.down.pending() && !e.cw && e.reset(e.bfd, e.cfd, &e.down) {
		return
	}
	if err := e.move(&e.up, e.cfd, e.bfd, &e.cr, &e.chup, &e.bw, now); err != nil {
		e.fail(dirReason(&e.up, err), err)
		return
	}
	if err := e.move(&e.down, e.bfd, e.cfd, &e.br, &e.bhup, &e.cw, now); err != nil {
		e.fail(dirReason(&e.down, err), err)
		return
	}
	e.settle(&e.up, e.bfd)
	if !e.ended {
		e.settle(&e.down, e.cfd)
	}
}

// reset checks a socket that reported an error while d (its bytes toward
// dst) waits: a reset ends the relay, and dst, which stopped taking bytes,
// is reset too, so its peer sees the end and the kernel frees what is
// queued for it.
func (e *evConn) reset(src, dst int, d *evDir) bool {
	soerr, err := sysSoError(src)
	if err != nil || soerr == 0 {
		return false
	}
	err = os.NewSyscallError("read", unix.Errno(soerr))
	_ = sysSetsockoptLinger0(dst)
	e.fail(dirReason(d, err), err)
	return true
}

// dirReason names how direction d failed with err.
func dirReason(d *evDir, err error) string {
	if errors.Is(err, ErrMessageTooLarge) {
		return d.name + " message over max_message"
	}
	return d.name + " error"
}

// settle passes a direction's EOF on once everything before it is out: as
// a shutdown of the destination's write side, or, when the other direction
// is over too, as the close of both sockets (which sends the FIN anyway).
func (e *evConn) settle(d *evDir, dst int) {
	if !d.eof || d.done || d.pending() {
		return
	}
	d.done = true
	if e.reason == "" {
		e.reason = d.name + " closed"
	}
	if e.up.done && e.down.done {
		e.finish(e.reason, nil)
		return
	}
	if err := sysShutdown(dst, unix.SHUT_WR); err != nil {
		e.finish(d.name+" closed", nil)
	}
}

// move copies from src to dst while src has bytes and dst takes them.
func (e *evConn) move(d *evDir, src, dst int, srcReady, srcHup, dstReady *bool, now int64) error {
	moved := 0
	for {
		if d.pending() {
			if !*dstReady {
				return nil
			}
			if err := e.flush(d, dst, dstReady); err != nil {
				return err
			}
			if d.pending() {
				return nil
			}
		}
		if d.ferr != nil {
			return d.ferr
		}
		if d.eof || !*srcReady {
			return nil
		}
		if moved >= evBudget {
			e.more = true
			return nil
		}
		if d.f != nil {
			n, err := e.moveFramed(d, src, dst, srcReady, srcHup, dstReady, now)
			if err != nil {
				return err
			}
			moved += n
			continue
		}
		if d.bulk {
			n, err := e.spliceIn(d, src, srcReady, now)
			if err != nil {
				return err
			}
			moved += n
			continue
		}
		n, err := readQueued(src, e.loop.buf, 0, srcReady)
		if err == io.EOF {
			d.eof = true
			return nil
		}
		if err != nil || n == 0 {
			return err
		}
		e.last = now
		moved += n
		// A short read took everything queued: the next byte brings a new
		// edge. After a hang-up there may be no further edge: read to EOF.
		if n < len(e.loop.buf) && !*srcHup {
			*srcReady = false
		}
		// A read that fills the whole buffer means bulk data: splice.
		d.bulk = n == len(e.loop.buf)
		if err := e.write(d, dst, e.loop.buf[:n], dstReady); err != nil {
			return err
		}
	}
}

// fail ends the relay with reason unless one was recorded first (a
// direction that closed cleanly); a shutdown passes "", and conn.finish
// reports the shutdown's reason.
func (e *evConn) fail(reason string, err error) {
	if e.reason == "" {
		e.reason, e.err = reason, err
	}
	e.finish(e.reason, e.err)
}

// finish closes both sockets, releases what the directions hold and
// reports the connection.
func (e *evConn) finish(reason string, err error) {
	if e.ended {
		return
	}
	e.ended = true
	e.loop.remove(e)
	if e.cfd >= 0 {
		sysClose(e.cfd)
		e.cfd = -1
	}
	if e.bfd >= 0 {
		sysClose(e.bfd)
		e.bfd = -1
	}
	for _, d := range []*evDir{&e.up, &e.down} {
		d.release()
		if d.pipe != nil {
			d.pipe.discard()
			d.pipe = nil
		}
	}
	s := summary{kind: e.kind, res: relayResult{Up: max(e.up.n-e.hdrLen, 0), Down: e.down.n,
		Spliced: e.up.splice + e.down.splice, Reason: reason, Err: err}}
	if e.h.srv != nil {
		s.backend = e.h.srv.addr
	}
	if e.up.f != nil {
		s.ext.proto = "xml"
		s.ext.msgsUp, s.ext.msgsDown = e.up.f.msgs, e.down.f.msgs
	}
	e.h.finish(s)
}
