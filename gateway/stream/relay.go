package stream

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/flashgate/flashgate/gateway/wire"
)

// Close reasons reported in a Result (the gateway's summary line).
const (
	ReasonClientClosed  = "client closed"
	ReasonBackendClosed = "backend closed"
	ReasonClientError   = "client error"
	ReasonBackendError  = "backend error"
	ReasonIdle          = "idle timeout"
	ReasonShutdown      = "shutdown"
)

// ErrIdle ends a direction whose connection saw no byte either way for the
// idle timeout.
var ErrIdle = errors.New("idle timeout")

// BufSize is the size of the pooled buffers a relay borrows while data
// flows.
const BufSize = 32 << 10

// smallRead is the size of a direction's own read array: a stream whose
// socket cannot be watched directly (TLS) blocks in a read into it, so a
// waiting direction holds no pooled buffer.
const smallRead = 512

// stallCheck is how long a write to a peer that does not read may block
// before the relay looks whether the source's peer is still there.
const stallCheck = time.Second

// relayBufs lends the relay's 32 KiB buffers (one spare byte in front takes
// a framer's held-back '\r'). lent counts the buffers out now.
type relayBufs struct {
	pool sync.Pool
	lent atomic.Int64
}

var relayBufPool = relayBufs{pool: sync.Pool{New: func() any { b := make([]byte, BufSize+1); return &b }}}

func (p *relayBufs) get() *[]byte {
	p.lent.Add(1)
	return p.pool.Get().(*[]byte)
}

func (p *relayBufs) put(b *[]byte) {
	p.lent.Add(-1)
	p.pool.Put(b)
}

// LentBuffers reports how many pooled relay buffers are lent out right now,
// process-wide (relays and bridges). Idle connections hold none; tests and
// the status page read it.
func LentBuffers() int64 { return relayBufPool.lent.Load() }

// Result is what a finished relay, echo or bridge reports for the summary
// line.
type Result struct {
	Up, Down int64 // bytes client→backend and backend→client
	Spliced  int64 // of those, bytes moved by splice(2) without a copy (event loops only)
	Reason   string
	Err      error // the error behind Reason, if any

	// MsgsUp and MsgsDown count framed messages (protocol xml, WebSocket).
	MsgsUp, MsgsDown int64
}

// Options tune one relay.
type Options struct {
	// Idle ends the relay when no byte moved either way for this long
	// (0: never).
	Idle time.Duration
	// Up and Down, when set (protocol xml), frame NUL-terminated messages
	// client→backend and backend→client (gateway/wire/framing.go); nil
	// relays bytes unchanged.
	Up, Down *wire.Framer
}

// relay moves bytes, or framed messages, between a client and a backend
// stream until both directions end, an error aborts it, or it is idle for
// longer than idle. It is the one relay for net.Conn streams (TLS, HTTP,
// WebSocket backends, the builtin echo, every connection where the event
// loops do not run). It holds no pooled buffer while the connection is idle:
// each direction waits for readability first (see direction.read).
type relay struct {
	client, backend net.Conn
	idle            time.Duration
	last            atomic.Int64 // unixnano of the last byte moved either way
	once            sync.Once
	reason          string
	err             error
}

// direction is one copy loop of a relay.
type direction struct {
	src, dst         net.Conn
	srcName, dstName string // "client", "backend"
	n                int64
	f                *wire.Framer // protocol xml: frames NUL-terminated messages; nil: bytes

	srcRaw  syscall.RawConn // src's socket (under TLS too); nil when it has none
	direct  bool            // src is that socket itself: wait on it, then read
	wait    readWaiter
	flowing bool      // the last read filled the small array
	wdl     time.Time // the write deadline armed on dst, if any
	small   [smallRead + 1]byte
}

// newDirection prepares one direction from src to dst.
func newDirection(src, dst net.Conn, srcName, dstName string, f *wire.Framer) *direction {
	d := &direction{src: src, dst: dst, srcName: srcName, dstName: dstName, f: f}
	if tc := rawTCP(src); tc != nil {
		if rc, err := tc.SyscallConn(); err == nil {
			d.srcRaw = rc
			d.direct = canWait && src == net.Conn(tc)
		}
	}
	return d
}

// Relay moves bytes (or, with framers in o, messages) between client and
// backend until both directions end, an error aborts it, or it is idle for
// o.Idle. prefix holds bytes already read from the client; they reach the
// backend first. EOF on one side becomes CloseWrite on the other. Both
// connections are closed when Relay returns.
func Relay(client net.Conn, prefix []byte, backend net.Conn, o Options) Result {
	idle, up, down := o.Idle, o.Up, o.Down
	r := &relay{client: client, backend: backend, idle: idle}
	r.touch()
	var n0 int64
	if len(prefix) > 0 {
		end, ferr := len(prefix), error(nil)
		if up != nil {
			_, end, ferr = up.Frame(prefix, 0, len(prefix))
		}
		n, err := backend.Write(prefix[:end])
		n0 = int64(n)
		if err != nil || ferr != nil {
			client.Close()
			backend.Close()
			res := Result{Up: n0, Reason: ReasonBackendError, Err: err}
			if up != nil {
				res.MsgsUp = up.Msgs()
			}
			if ferr != nil {
				res.Reason, res.Err = "client message over max_message", ferr
			}
			return res
		}
	}
	c2b := newDirection(client, backend, "client", "backend", up)
	b2c := newDirection(backend, client, "backend", "client", down)
	done := make(chan struct{})
	go func() {
		r.pipe(b2c)
		close(done)
	}()
	r.pipe(c2b)
	r.waitOther(done)
	client.Close()
	backend.Close()
	res := Result{Up: n0 + c2b.n, Down: b2c.n, Reason: r.reason, Err: r.err}
	if up != nil {
		res.MsgsUp = up.Msgs()
	}
	if down != nil {
		res.MsgsDown = down.Msgs()
	}
	return res
}

// waitOther waits for the second direction. While one direction is finished
// and the other still runs (a half-closed connection), nothing else watches
// for idleness, so this does.
func (r *relay) waitOther(done chan struct{}) {
	if r.idle <= 0 {
		<-done
		return
	}
	t := time.NewTimer(r.idle)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			since := time.Since(time.Unix(0, r.last.Load()))
			if since >= r.idle {
				r.abort(ReasonIdle, ErrIdle)
				<-done
				return
			}
			t.Reset(r.idle - since)
		}
	}
}

func (r *relay) touch() { r.last.Store(time.Now().UnixNano()) }

// abort records the first reason and closes both connections, which ends
// both directions.
func (r *relay) abort(reason string, err error) {
	r.once.Do(func() {
		r.reason, r.err = reason, err
	})
	r.client.Close()
	r.backend.Close()
}

// finish records a clean half-close as the reason unless one is set.
func (r *relay) finish(reason string) {
	r.once.Do(func() { r.reason = reason })
}

// pipe copies one direction to its end and propagates EOF as CloseWrite.
func (r *relay) pipe(d *direction) {
	r.end(d, r.copy(d))
}

// end settles one direction that stopped with err: EOF (nil) is passed on
// as CloseWrite and the other direction goes on; anything else aborts the
// relay, with the first reason recorded (a close by the other direction,
// the idle watch or shutdown has recorded its own already).
func (r *relay) end(d *direction, err error) {
	switch {
	case err == nil:
		r.finish(d.srcName + " closed")
		if !CloseWrite(d.dst) {
			r.abort(d.srcName+" closed", nil)
		}
	case errors.Is(err, ErrIdle):
		r.abort(ReasonIdle, err)
	case errors.Is(err, wire.ErrMessageTooLarge):
		r.abort(d.srcName+" message over max_message", err)
	default:
		r.abort(d.srcName+" error", err)
	}
}

// armIdle sets the read deadline on src for the idle timeout, counted from
// the last byte moved in either direction. Deadlines are re-armed only when
// they fire, not per read.
func (r *relay) armIdle(src net.Conn) {
	if r.idle > 0 {
		_ = src.SetReadDeadline(time.Unix(0, r.last.Load()).Add(r.idle))
	}
}

// idleExpired reports, after a deadline fired, whether the connection really
// was idle; if not it re-arms the deadline and the caller reads on.
func (r *relay) idleExpired(src net.Conn) bool {
	if time.Since(time.Unix(0, r.last.Load())) >= r.idle {
		return true
	}
	r.armIdle(src)
	return false
}

// copy reads, frames (with a framer) and writes until EOF (nil) or an
// error.
func (r *relay) copy(d *direction) error {
	r.armIdle(d.src)
	for {
		buf, bp, n, rerr := d.read()
		var werr error
		if n > 0 {
			r.touch()
			start, end := 1, 1+n
			var ferr error
			if d.f != nil {
				start, end, ferr = d.f.Frame(buf, 1, n)
			}
			if end > start {
				werr = d.write(buf[start:end])
				d.n += int64(end - start)
			}
			if werr == nil {
				werr = ferr
			}
		}
		if bp != nil {
			relayBufPool.put(bp)
		}
		if werr != nil {
			return werr
		}
		if rerr == nil {
			continue
		}
		if eof, err := d.atEOF(rerr); eof {
			return err
		}
		if IsTimeout(rerr) {
			if r.idle > 0 && !r.idleExpired(d.src) {
				continue
			}
			return ErrIdle
		}
		return rerr
	}
}

// read reads what src has into buf[1:] (the spare byte in front is the
// framer's) and reports n bytes read. The buffer is the direction's small
// array or, while data flows, a pooled one (bp, to be returned by the
// caller). A raw socket is waited on first, holding nothing, then read into
// a pooled buffer. A stream over one (TLS, which may hold records it has
// read already) blocks in a read into the small array, and borrows the pooled
// buffer only while its last read filled that array and the socket has bytes
// queued, so the read will not block. A stream with no socket at all (tests)
// borrows it while its reads fill the small array.
func (d *direction) read() (buf []byte, bp *[]byte, n int, err error) {
	switch {
	case d.direct:
		if err := d.wait.waitRaw(d.srcRaw); err != nil {
			return nil, nil, 0, err
		}
		bp = relayBufPool.get()
	case d.flowing && (d.srcRaw == nil || queued(d.srcRaw)):
		bp = relayBufPool.get()
	}
	buf = d.small[:]
	if bp != nil {
		buf = *bp
	}
	n, err = d.src.Read(buf[1:])
	d.flowing = bp == nil && n == smallRead
	return buf, bp, n, err
}

// write writes p to dst. A write to a raw socket that blocks (the peer does
// not read) wakes every stallCheck to see whether the source's peer is gone;
// if it is, the relay ends now instead of at the idle timeout, freeing the
// stalled peer too.
func (d *direction) write(p []byte) error {
	return writeWatched(d.dst, p, &d.wdl, d.srcRaw)
}

// writeWatched writes p to dst; see direction.write. wdl holds the write
// deadline armed on dst; src is the raw socket whose peer is watched (nil:
// none, a plain blocking write). A TLS dst is written without deadline: a
// timed-out TLS write leaves the stream unusable.
func writeWatched(dst net.Conn, p []byte, wdl *time.Time, src syscall.RawConn) error {
	tc, ok := dst.(*net.TCPConn)
	if !ok || src == nil {
		_, err := dst.Write(p)
		return err
	}
	for {
		// The deadline is re-armed only when half of it has passed, not
		// per write.
		if now := time.Now(); wdl.Sub(now) < stallCheck/2 {
			*wdl = now.Add(stallCheck)
			_ = tc.SetWriteDeadline(*wdl)
		}
		n, err := tc.Write(p)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		p = p[n:]
		if gerr := peerGone(src); gerr != nil {
			return gerr
		}
		*wdl = time.Time{}
	}
}

// errPeerGone wraps the error of a source whose peer went away while a
// write to the other side stalled (see writeWatched): the source's error,
// not the stalled destination's.
var errPeerGone = errors.New("peer gone while the other side stalled")

// IsTimeout reports whether err is a deadline expiry.
func IsTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// IsExpectedEnd reports whether err is an ordinary way for a connection to
// end: EOF, a closed socket, a reset or a broken pipe.
func IsExpectedEnd(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
