package evloop

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/flashgate/flashgate/gateway/wire"
)

// Conn is one connection relayed by an event loop. All of it belongs to
// the loop's goroutine; other goroutines reach it through the loop's task
// queue (Abort).
type Conn struct {
	h    Host
	dial Dialer // while going to the backend
	loop *loop
	tok  uint64
	hi   int   // index + 1 in the loop's timer heap (0: no timer)
	when int64 // unixnano: the timer's deadline

	cfd, bfd int // -1 once closed

	state    uint8
	kind     wire.Kind // what the summary reports: raw, or what sniffing found
	sbuf     []byte    // Settings.SniffBuf
	sn       int       // bytes sniffed into sbuf
	proxyIn  string    // Settings.ProxyIn
	transp   bool      // Settings.Transparent
	sniffDur int64     // Settings.SniffTimeout, ns
	sniffEnd int64     // unixnano: sniff_timeout while sniffing (0: none)
	proxyEnd int64     // unixnano: the PROXY header's deadline
	px       *evProxyBuf
	hdrLen   int64 // bytes of the backend's PROXY header in up.n
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

// Conn states.
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
	f      *wire.Framer // protocol xml: NUL-framed messages (no splice then)
	ferr   error        // over max_message: ends the relay once the bytes before it are out
}

func (d *evDir) pending() bool { return d.end > d.off || d.inPipe > 0 }

// newConn prepares a connection on an accepted client socket.
func newConn(h Host, loop *loop, cfd int) *Conn {
	st := h.Settings()
	e := &Conn{h: h, loop: loop, cfd: cfd, bfd: -1, cw: true, kind: wire.KindRaw,
		sbuf: st.SniffBuf, proxyIn: st.ProxyIn, transp: st.Transparent, sniffDur: int64(st.SniffTimeout)}
	e.up.name, e.down.name = "client", "backend"
	e.idle = int64(st.IdleTimeout)
	if !st.Transparent {
		e.state, e.kind = evSniffing, wire.KindUnknown
		if st.SniffTimeout > 0 {
			e.sniffEnd = st.Start.Add(st.SniffTimeout).UnixNano()
		}
	}
	if st.ProxyIn != "" {
		e.state = evProxy
		e.proxyEnd = st.Start.Add(st.ProxyTimeout).UnixNano()
	}
	return e
}

// evResolvePoll is how often a connection waiting for its backend's host
// names looks again.
const evResolvePoll = int64(10 * time.Millisecond)

// deadlineNow is the deadline of e's current state (unixnano, 0: none).
func (e *Conn) deadlineNow() int64 {
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
func (e *Conn) due(now int64) bool {
	d := e.deadlineNow()
	return d > 0 && now >= d
}

// expire acts on a passed timeout.
func (e *Conn) expire(now int64) {
	if e.ended || !e.due(now) {
		return
	}
	switch e.state {
	case evProxy:
		e.proxyTimedOut()
	case evSniffing:
		// Silence, or a prefix the sniffer could not place: data.
		kind := wire.KindData
		if e.sn == 0 {
			kind = wire.KindSilent
		}
		e.decide(kind, now)
	case evResolving:
		e.last = now
		e.toBackend(now)
	case evDialing:
		e.dialFailed(os.ErrDeadlineExceeded, now)
	case evRelaying, evAnswering:
		e.fail(ReasonIdle, ErrIdle)
	}
}

// Abort ends the connection from another goroutine: the loop closes both
// sockets and calls Host.Finish with no reason (the caller knows why). It
// does nothing once the connection has ended or been handed over.
func (e *Conn) Abort() {
	e.loop.push(task{op: opAbort, e: e})
}

// refuse ends a connection the loop will not take (it is closing).
func (e *Conn) refuse() {
	e.ended = true
	sysClose(e.cfd)
	e.cfd = -1
	e.h.Finish(Summary{Kind: wire.KindRaw, Reason: ReasonShutdown})
}

// event handles readiness reported for one side.
func (e *Conn) event(side int, ev uint32, now int64) {
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
func (e *Conn) requeue() {
	if e.more && !e.ended && !e.queued {
		e.queued = true
		e.loop.again = append(e.loop.again, e)
	}
}

// toBackend starts the way to the backend: its PROXY header (if it wants
// one) goes in front of the bytes waiting for it, then the dial.
func (e *Conn) toBackend(now int64) {
	if e.dial == nil {
		e.dial = e.h.Dialer()
	}
	if !e.dial.Resolved() {
		// A host name not resolved yet: wait in the loop, looking again
		// every evResolvePoll, within connect_timeout.
		if e.state != evResolving {
			e.state, e.last = evResolving, now
			e.deadline = now + int64(e.dial.ConnectTimeout())
			return
		}
		if now >= e.deadline {
			e.up.n += int64(e.up.end - e.up.off) // the sniffed bytes count as read
			e.finish(ReasonUnreachable, e.dial.Unresolved())
		}
		return
	}
	e.backendProxyHeader()
	e.state = evNew
	e.dial.Start()
	e.dialNext(now)
}

// dialNext starts a connect to the next address the Dialer gives, or ends
// the connection when none is left.
func (e *Conn) dialNext(now int64) {
	for {
		ap, ok := e.dial.NextAddr()
		if !ok {
			break
		}
		fd, err := connectNonblock(ap)
		if err != nil {
			e.dial.Failed(err)
			continue
		}
		e.bfd = fd
		if err := e.loop.register(fd, e.tok<<1|sideBackend); err != nil {
			e.fail(ReasonBackendError, err)
			return
		}
		e.state = evDialing
		e.deadline = now + int64(e.dial.ConnectTimeout())
		return
	}
	e.up.n += int64(e.up.end - e.up.off) // the sniffed bytes count as read
	e.finish(ReasonUnreachable, e.dial.Err())
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
func (e *Conn) connected(now int64) {
	soerr, err := sysSoError(e.bfd)
	if err == nil && soerr != 0 {
		err = os.NewSyscallError("connect", unix.Errno(soerr))
	}
	if err != nil {
		e.dialFailed(err, now)
		return
	}
	e.dial.Connected()
	e.state = evRelaying
	e.last = now
	e.pump(now)
}

// dialFailed closes the failed attempt and tries the next server.
func (e *Conn) dialFailed(err error, now int64) {
	e.closeBackend()
	e.br, e.bw, e.bhup, e.berr = false, false, false, false
	e.dial.Failed(err)
	e.dialNext(now)
}

// detach takes the connection off its loop before any backend socket
// exists and returns the client socket, now the caller's.
func (e *Conn) detach() int {
	e.ended = true
	e.loop.remove(e)
	fd := e.cfd
	e.cfd = -1
	return fd
}

func (e *Conn) closeBackend() {
	if e.bfd >= 0 {
		sysClose(e.bfd)
		e.bfd = -1
	}
}

// pump moves what both directions can move now, then settles their ends.
func (e *Conn) pump(now int64) {
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
func (e *Conn) reset(src, dst int, d *evDir) bool {
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
	if errors.Is(err, wire.ErrMessageTooLarge) {
		return d.name + " message over max_message"
	}
	return d.name + " error"
}

// settle passes a direction's EOF on once everything before it is out: as
// a shutdown of the destination's write side, or, when the other direction
// is over too, as the close of both sockets (which sends the FIN anyway).
func (e *Conn) settle(d *evDir, dst int) {
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
func (e *Conn) move(d *evDir, src, dst int, srcReady, srcHup, dstReady *bool, now int64) error {
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
// direction that closed cleanly); Abort passes "", and the Host knows
// the reason.
func (e *Conn) fail(reason string, err error) {
	if e.reason == "" {
		e.reason, e.err = reason, err
	}
	e.finish(e.reason, e.err)
}

// finish closes both sockets, releases what the directions hold and
// reports the connection.
func (e *Conn) finish(reason string, err error) {
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
	s := Summary{Kind: e.kind, Up: max(e.up.n-e.hdrLen, 0), Down: e.down.n,
		Spliced: e.up.splice + e.down.splice, Reason: reason, Err: err}
	if e.up.f != nil {
		s.Framed = true
		s.MsgsUp, s.MsgsDown = e.up.f.Msgs(), e.down.f.Msgs()
	}
	e.dial = nil
	e.h.Finish(s)
}
