package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Close reasons reported in the summary line.
const (
	reasonClientClosed  = "client closed"
	reasonBackendClosed = "backend closed"
	reasonClientError   = "client error"
	reasonBackendError  = "backend error"
	reasonIdle          = "idle timeout"
	reasonShutdown      = "shutdown"
)

// errIdle ends a direction whose connection saw no byte either way for the
// idle timeout.
var errIdle = errors.New("idle timeout")

// copyBufSize is the size of the pooled buffers used for small reads.
const copyBufSize = 32 << 10

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}

// relayResult is what a finished relay reports for the summary line.
type relayResult struct {
	Up, Down int64 // bytes client→backend and backend→client
	Spliced  int64 // of those, bytes moved by splice(2) without a copy
	Reason   string
	Err      error // the error behind Reason, if any
}

// relay moves bytes between a client and a backend connection until both
// directions end, an error aborts it, or it is idle for longer than idle.
// It holds no buffer and no pipe while the connection is idle: each direction
// waits for readability first, then copies what is queued through a pooled
// buffer or splices bulk data through a pooled pipe.
type relay struct {
	client, backend net.Conn
	idle            time.Duration
	last            atomic.Int64 // unixnano of the last byte moved either way
	spliced         atomic.Int64
	once            sync.Once
	reason          string
	err             error

	// Set for a relay started with startRelay (parked while idle).
	async *asyncRelay
}

// direction names the two copy loops for close reasons.
type direction struct {
	src, dst         net.Conn
	srcName, dstName string // "client", "backend"
	n                int64
}

// runRelay relays between client and backend. prefix holds bytes already
// read from the client; they reach the backend first. Both connections are
// closed when runRelay returns.
func runRelay(client net.Conn, prefix []byte, backend net.Conn, idle time.Duration) relayResult {
	r := &relay{client: client, backend: backend, idle: idle}
	r.touch()
	var up int64
	if len(prefix) > 0 {
		n, err := backend.Write(prefix)
		up = int64(n)
		if err != nil {
			client.Close()
			backend.Close()
			return relayResult{Up: up, Reason: reasonBackendError, Err: err}
		}
	}
	c2b := &direction{src: client, dst: backend, srcName: "client", dstName: "backend"}
	b2c := &direction{src: backend, dst: client, srcName: "backend", dstName: "client"}
	done := make(chan struct{})
	go func() {
		r.pipe(b2c)
		close(done)
	}()
	r.pipe(c2b)
	r.waitOther(done)
	client.Close()
	backend.Close()
	return relayResult{Up: up + c2b.n, Down: b2c.n, Spliced: r.spliced.Load(), Reason: r.reason, Err: r.err}
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
				r.abort(reasonIdle, errIdle)
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
	if r.async != nil {
		r.async.cancelParked()
	}
}

// finish records a clean half-close as the reason unless one is set.
func (r *relay) finish(reason string) {
	r.once.Do(func() { r.reason = reason })
}

// pipe copies one direction to its end and propagates EOF as CloseWrite.
func (r *relay) pipe(d *direction) {
	var err error
	if s, ok := d.src.(*net.TCPConn); ok {
		if t, ok := d.dst.(*net.TCPConn); ok {
			err = r.copyTCP(d, s, t)
		} else {
			err = r.copyGeneric(d)
		}
	} else {
		err = r.copyGeneric(d)
	}
	r.end(d, err)
}

// end settles one direction that stopped with err: EOF (nil) is passed on
// as CloseWrite and the other direction goes on; anything else aborts the
// relay, with the first reason recorded (a close by the other direction,
// the idle watch or shutdown has recorded its own already).
func (r *relay) end(d *direction, err error) {
	switch {
	case err == nil:
		r.finish(d.srcName + " closed")
		if !closeWrite(d.dst) {
			r.abort(d.srcName+" closed", nil)
		}
	case errors.Is(err, errIdle):
		r.abort(reasonIdle, err)
	case errors.Is(err, ErrMessageTooLarge):
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

// copyGeneric copies through a pooled buffer with plain Read and Write. It
// serves connections that are not raw TCP (TLS, test pipes). It returns nil
// on EOF.
func (r *relay) copyGeneric(d *direction) error {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	buf := *bp
	r.armIdle(d.src)
	for {
		n, err := d.src.Read(buf)
		if n > 0 {
			r.touch()
			if _, werr := d.dst.Write(buf[:n]); werr != nil {
				return werr
			}
			d.n += int64(n)
		}
		if err != nil {
			if err == io.EOF {
				return nil
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && r.idle > 0 && !r.idleExpired(d.src) {
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return errIdle
			}
			return err
		}
	}
}

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// isExpectedEnd reports whether err is an ordinary way for a connection to
// end: EOF, a closed socket, a reset or a broken pipe.
func isExpectedEnd(err error) bool {
	return err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
