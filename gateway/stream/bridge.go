package stream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/flashgate/flashgate/gateway/wire"
)

// BridgeOptions tune one WebSocket bridge.
type BridgeOptions struct {
	// Idle ends the bridge when nothing moved either way for this long
	// (0: never).
	Idle time.Duration
	// Up and Down, when set (protocol xml), frame NUL-terminated messages:
	// one binary WebSocket message per backend message. nil: one binary
	// message per backend read.
	Up, Down *wire.Framer
}

// BridgeResult is a finished bridge's Result, with the HTTP status of the
// handshake (101 once upgraded) and the WebSocket close code, if any.
type BridgeResult struct {
	Result
	Status    int
	CloseCode int
}

// Bridge upgrades client (whose request head req was read already, rest
// holding the bytes after it) to a WebSocket and bridges it to backend
// (nil: the builtin echo) until either side ends. The caller has checked
// the Origin. Subprotocol "binary" is taken when offered; permessage-deflate
// is declined. Both connections are closed when Bridge returns, except
// client after a refused handshake, which is half-closed with the refusal
// written.
func Bridge(client net.Conn, req *http.Request, rest []byte, backend net.Conn, o BridgeOptions) BridgeResult {
	r := &relay{client: client, backend: backend, idle: o.Idle}
	r.touch()
	ic := &idleConn{Conn: client, r: r}
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(rest), ic), max(4096, len(rest)))
	if len(rest) > 0 {
		_, _ = br.Peek(len(rest)) // buffered now: Accept keeps only buffered bytes
	}
	w := &hijackWriter{c: ic, brw: bufio.NewReadWriter(br, bufio.NewWriterSize(ic, 4096)), hdr: http.Header{}}
	wc, err := websocket.Accept(w, req, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the caller checked the Origin
		Subprotocols:       []string{"binary"},
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		_ = w.brw.Flush()
		CloseWrite(client)
		if backend != nil {
			backend.Close()
		}
		return BridgeResult{Status: w.status, Result: Result{Reason: "websocket handshake refused", Err: err}}
	}
	wc.SetReadLimit(-1) // messages are streamed; the framer enforces max_message
	b := &wsBridge{r: r, ws: wc, bc: backend, ic: ic, up: o.Up, down: o.Down}
	if tc := rawTCP(client); tc != nil {
		b.clientRaw, _ = tc.SyscallConn()
	}
	b.run()
	res := BridgeResult{Status: http.StatusSwitchingProtocols, CloseCode: b.code, Result: Result{
		Up: b.upBytes, Down: b.downBytes.Load(), Reason: b.reason, Err: b.err,
		MsgsUp: b.msgsUp, MsgsDown: b.msgsDown.Load(),
	}}
	if b.up != nil {
		res.MsgsUp = b.up.Msgs()
		if backend != nil {
			res.MsgsDown = b.down.Msgs()
		}
	}
	return res
}

// hijackWriter is the http.ResponseWriter websocket.Accept writes its
// handshake response to: straight onto the client connection, no net/http
// server involved.
type hijackWriter struct {
	c      net.Conn
	brw    *bufio.ReadWriter
	hdr    http.Header
	status int
}

var _ http.Hijacker = (*hijackWriter)(nil)

func (w *hijackWriter) Header() http.Header { return w.hdr }

func (w *hijackWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if code != http.StatusSwitchingProtocols {
		w.hdr.Set("Connection", "close")
	}
	_, _ = w.brw.WriteString("HTTP/1.1 " + strconv.Itoa(code) + " " + http.StatusText(code) + "\r\n")
	_ = w.hdr.Write(w.brw)
	_, _ = w.brw.WriteString("\r\n")
}

func (w *hijackWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.brw.Write(p)
}

// Hijack flushes the response head and hands over the connection, as
// net/http's does.
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if err := w.brw.Flush(); err != nil {
		return nil, nil, err
	}
	return w.c, w.brw, nil
}

// idleConn is the client connection under the WebSocket library: its reads
// touch the bridge's activity clock and survive deadlines that fire while
// the other direction was busy (lazy idle deadlines, as in relay.go).
type idleConn struct {
	net.Conn
	r *relay
}

func (c *idleConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if n > 0 {
			c.r.touch()
		}
		if err != nil && n == 0 && IsTimeout(err) {
			if c.r.idle > 0 && !c.r.idleExpired(c.Conn) {
				continue
			}
			return 0, ErrIdle
		}
		return n, err
	}
}

// wsBridge runs one bridged WebSocket.
type wsBridge struct {
	r        *relay
	ws       *websocket.Conn
	bc       net.Conn // nil: builtin echo
	ic       *idleConn
	up, down *wire.Framer // protocol xml; nil for binary

	upBytes   int64
	msgsUp    int64
	clientRaw syscall.RawConn // the client's socket, watched while a backend write stalls
	wdl       time.Time       // the write deadline armed on the backend
	small     [smallRead + 1]byte
	downBytes atomic.Int64
	msgsDown  atomic.Int64

	once   sync.Once
	reason string
	err    error
	code   int
}

// run bridges until either side ends: client→backend here, backend→client
// in one more goroutine.
func (b *wsBridge) run() {
	b.r.armIdle(b.ic.Conn)
	if b.bc == nil {
		b.endUp(b.clientToBackend())
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.endDown(b.backendToClient())
	}()
	b.endUp(b.clientToBackend())
	<-done
}

// end records the first ending and closes both sides: the WebSocket with
// code and text (a close handshake, bounded by the library's 5 s), or at
// once when code is 0.
func (b *wsBridge) end(reason string, err error, code websocket.StatusCode, text string) {
	b.once.Do(func() {
		b.reason, b.err = reason, err
		if b.bc != nil {
			b.bc.Close()
		}
		if code != 0 {
			b.code = int(code)
			_ = b.ws.Close(code, text)
		} else {
			_ = b.ws.CloseNow()
		}
	})
}

func (b *wsBridge) endUp(err error) {
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce):
		b.once.Do(func() {
			b.reason, b.code = ReasonClientClosed, int(ce.Code)
			if b.bc != nil {
				b.bc.Close()
			}
			_ = b.ws.CloseNow()
		})
	case errors.Is(err, ErrIdle):
		b.end(ReasonIdle, ErrIdle, 0, "")
	case errors.Is(err, wire.ErrMessageTooLarge):
		b.end("client message over max_message", err, websocket.StatusMessageTooBig, "message over max_message")
	case errors.Is(err, errBackendWrite):
		b.end(ReasonBackendError, err, websocket.StatusInternalError, "backend error")
	default:
		b.end(ReasonClientError, err, 0, "")
	}
}

func (b *wsBridge) endDown(err error) {
	switch {
	case err == nil:
		b.end(ReasonBackendClosed, nil, websocket.StatusGoingAway, "backend closed")
	case errors.Is(err, ErrIdle):
		b.end(ReasonIdle, ErrIdle, websocket.StatusGoingAway, "idle timeout")
	case errors.Is(err, wire.ErrMessageTooLarge):
		b.end("backend message over max_message", err, websocket.StatusInternalError, "backend message over max_message")
	case errors.Is(err, errClientWrite):
		b.end(ReasonClientError, err, 0, "")
	default:
		b.end(ReasonBackendError, err, websocket.StatusInternalError, "backend error")
	}
}

var (
	errBackendWrite = errors.New("backend write")
	errClientWrite  = errors.New("client write")
)

// clientToBackend streams each client message, in pieces of up to 32 KiB,
// to the backend (or back to the client for the builtin echo).
func (b *wsBridge) clientToBackend() error {
	ctx := context.Background()
	for {
		_, rd, err := b.ws.Reader(ctx)
		if err != nil {
			return err
		}
		b.msgsUp++
		if err := b.copyMessage(rd); err != nil {
			return err
		}
	}
}

// copyMessage copies one message. A read that may wait (for the rest of a
// frame, or for the next fragment of an unfinished message) goes into the
// bridge's small array. A pooled buffer is borrowed for one read at a time
// only after a read filled that array, and only for as many bytes as the
// client's socket has queued (the library reads a frame's payload in full,
// so a longer read would wait for bytes not sent yet): a connection waiting
// for the rest of a message holds none.
func (b *wsBridge) copyMessage(rd io.Reader) error {
	flowing := false
	for {
		var bp *[]byte
		buf := b.small[:]
		if flowing && b.clientRaw != nil {
			if q := queuedBytes(b.clientRaw); q > smallRead {
				bp = relayBufPool.get()
				buf = (*bp)[:1+min(q, BufSize)]
			}
		}
		n, rerr := rd.Read(buf[1:])
		flowing = bp == nil && n == smallRead
		err := b.forward(buf, n)
		if bp != nil {
			relayBufPool.put(bp)
		}
		if err != nil {
			return err
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

// forward frames (protocol xml) and sends the n bytes read at buf[1:].
func (b *wsBridge) forward(buf []byte, n int) error {
	if n == 0 {
		return nil
	}
	b.upBytes += int64(n)
	start, end := 1, 1+n
	var ferr error
	if b.up != nil {
		start, end, ferr = b.up.Frame(buf, 1, n)
	}
	if end > start {
		if err := b.toBackend(buf[start:end]); err != nil {
			return err
		}
	}
	return ferr
}

func (b *wsBridge) toBackend(p []byte) error {
	if b.bc == nil { // builtin echo
		if err := b.ws.Write(context.Background(), websocket.MessageBinary, p); err != nil {
			return fmt.Errorf("%w: %w", errClientWrite, err)
		}
		b.downBytes.Add(int64(len(p)))
		b.msgsDown.Add(1)
		return nil
	}
	// A write the backend does not take watches the client: one that
	// reset ends the bridge now, not at the idle timeout.
	// Such an ending is the client's (errPeerGone), not the backend's.
	if err := writeWatched(b.bc, p, &b.wdl, b.clientRaw); err != nil {
		if errors.Is(err, errPeerGone) {
			return err
		}
		return fmt.Errorf("%w: %w", errBackendWrite, err)
	}
	return nil
}

func (b *wsBridge) toClient(p []byte) error {
	if err := b.ws.Write(context.Background(), websocket.MessageBinary, p); err != nil {
		return fmt.Errorf("%w: %w", errClientWrite, err)
	}
	b.downBytes.Add(int64(len(p)))
	return nil
}

// backendToClient sends what the backend writes as binary messages. It
// waits for readability without a buffer; it keeps one only while an xml
// message is incomplete.
func (b *wsBridge) backendToClient() error {
	if b.down == nil {
		return b.backendBinary()
	}
	return b.backendXML()
}

// backendBinary reads the backend as the relay's directions do
// (direction.read: no pooled buffer while waiting, TLS backends included).
func (b *wsBridge) backendBinary() error {
	d := newDirection(b.bc, nil, "backend", "client", nil)
	b.r.armIdle(b.bc)
	for {
		buf, bp, n, rerr := d.read()
		var werr error
		if n > 0 {
			b.r.touch()
			b.msgsDown.Add(1)
			werr = b.toClient(buf[1 : 1+n])
		}
		if bp != nil {
			relayBufPool.put(bp)
		}
		if werr != nil {
			return werr
		}
		switch {
		case rerr == io.EOF:
			return nil
		case rerr == nil:
		case IsTimeout(rerr):
			if b.r.idle <= 0 || b.r.idleExpired(b.bc) {
				return ErrIdle
			}
		default:
			return rerr
		}
	}
}

// waitBackend waits until the backend is readable, re-arming the lazy idle
// deadline while the client side is active.
func (b *wsBridge) waitBackend(rw *readWaiter) error {
	for {
		err := rw.wait(b.bc)
		if err == nil {
			return nil
		}
		if !IsTimeout(err) {
			return err
		}
		if b.r.idle <= 0 || b.r.idleExpired(b.bc) {
			return ErrIdle
		}
	}
}

// backendXML sends one binary message per NUL-terminated message. The
// pending part of an incomplete message stays in a pooled buffer, which is
// released whenever nothing is pending; a message longer than the buffer is
// streamed as one fragmented message. With nothing pending it holds no
// pooled buffer: a raw backend socket is waited on first, and a backend
// that cannot be waited on (TLS) is read into the bridge's small array
// first, as the relay's directions do (direction.read).
func (b *wsBridge) backendXML() error {
	var rw readWaiter
	var bp *[]byte
	var ps, pe int        // pending (incomplete, already framed) message: buf[ps:pe]
	var mw io.WriteCloser // open fragmented message, if any
	defer func() {
		if bp != nil {
			relayBufPool.put(bp)
		}
	}()
	direct := false
	if tc := rawTCP(b.bc); tc != nil && canWait && b.bc == net.Conn(tc) {
		direct = true
	}
	var small [smallRead]byte
	ctx := context.Background()
	b.r.armIdle(b.bc)
	for {
		pre, preRead := 0, false
		var preErr error
		if bp == nil {
			if direct {
				if err := b.waitBackend(&rw); err != nil {
					return err
				}
			} else {
				pre, preErr = b.bc.Read(small[:])
				preRead = true
			}
			bp = relayBufPool.get()
			ps, pe = 0, 0
		}
		buf := *bp
		if pe > ps && ps > 0 {
			copy(buf, buf[ps:pe])
			pe -= ps
			ps = 0
		}
		if pe+2 > len(buf) { // one message fills the buffer: stream it
			if mw == nil {
				w, err := b.ws.Writer(ctx, websocket.MessageBinary)
				if err != nil {
					return fmt.Errorf("%w: %w", errClientWrite, err)
				}
				mw = w
			}
			if _, err := mw.Write(buf[ps:pe]); err != nil {
				return fmt.Errorf("%w: %w", errClientWrite, err)
			}
			b.downBytes.Add(int64(pe - ps))
			ps, pe = 0, 0
		}
		off := pe + 1
		var n int
		var rerr error
		if preRead {
			n, rerr = copy(buf[off:], small[:pre]), preErr
		} else {
			n, rerr = b.bc.Read(buf[off:])
		}
		if n > 0 {
			b.r.touch()
			start, end, ferr := b.down.Frame(buf, off, n)
			if pe > ps {
				if start == off { // close the scratch gap
					copy(buf[pe:], buf[start:end])
					end -= start - pe
				}
			} else {
				ps = start
			}
			p := buf[ps:end]
			for {
				i := bytes.IndexByte(p, 0)
				if i < 0 {
					break
				}
				var err error
				if mw != nil {
					if _, err = mw.Write(p[:i+1]); err == nil {
						err = mw.Close()
					}
					mw = nil
					if err != nil {
						err = fmt.Errorf("%w: %w", errClientWrite, err)
					} else {
						b.downBytes.Add(int64(i + 1))
					}
				} else {
					err = b.toClient(p[:i+1])
				}
				if err != nil {
					return err
				}
				p = p[i+1:]
			}
			if len(p) > 0 {
				ps, pe = end-len(p), end
			} else {
				ps, pe = 0, 0
			}
			if ferr != nil {
				return ferr
			}
		}
		if rerr != nil {
			switch {
			case rerr == io.EOF:
				tail := append(buf[ps:pe:pe], b.down.Flush()...)
				if mw != nil {
					_, _ = mw.Write(tail)
					_ = mw.Close()
				} else if len(tail) > 0 {
					if err := b.toClient(tail); err != nil {
						return err
					}
				}
				return nil
			case IsTimeout(rerr):
				if b.r.idle <= 0 || b.r.idleExpired(b.bc) {
					return ErrIdle
				}
			default:
				return rerr
			}
		}
		if pe == ps && mw == nil {
			relayBufPool.put(bp)
			bp = nil
		}
	}
}
