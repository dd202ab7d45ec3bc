package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// XMLSocket framing is gateway/wire/framing.go.

// xmlBufSize is the read size of the xml relay; one spare byte in front of it
// takes a held-back '\r'.
const xmlBufSize = copyBufSize

var xmlBufPool = sync.Pool{New: func() any { b := make([]byte, xmlBufSize+1); return &b }}

// xmlResult is an xml relay's summary.
type xmlResult struct {
	relayResult
	MsgsUp, MsgsDown int64
}

// runXMLRelay relays an XMLSocket connection: NUL-framed messages both ways,
// max_message enforced per message, "line" backend framing translated.
// prefix holds bytes already read from the client. Like runRelay it holds no
// buffer while the connection is idle (it waits for readability first) and
// closes both connections when it returns.
func runXMLRelay(client net.Conn, prefix []byte, backend net.Conn, idle time.Duration, max int64, backendFraming string) xmlResult {
	r := &relay{client: client, backend: backend, idle: idle}
	r.touch()
	upMode, downMode := xmlModes(backendFraming)
	up := &xmlDir{direction: direction{src: client, dst: backend, srcName: "client", dstName: "backend"},
		f: newFramer(upMode, max)}
	down := &xmlDir{direction: direction{src: backend, dst: client, srcName: "backend", dstName: "client"},
		f: newFramer(downMode, max)}
	if len(prefix) > 0 {
		_, end, ferr := up.f.frame(prefix, 0, len(prefix))
		n, err := backend.Write(prefix[:end])
		up.n = int64(n)
		if err == nil && ferr != nil {
			err = ferr
		}
		if err != nil {
			client.Close()
			backend.Close()
			res := relayResult{Up: up.n, Reason: reasonBackendError, Err: err}
			if ferr != nil {
				res.Reason = "client message over max_message"
			}
			return xmlResult{relayResult: res, MsgsUp: up.f.msgs}
		}
	}
	done := make(chan struct{})
	go func() {
		r.pipeXML(down)
		close(done)
	}()
	r.pipeXML(up)
	r.waitOther(done)
	client.Close()
	backend.Close()
	return xmlResult{
		relayResult: relayResult{Up: up.n, Down: down.n, Reason: r.reason, Err: r.err},
		MsgsUp:      up.f.msgs, MsgsDown: down.f.msgs,
	}
}

// xmlDir is one direction of an xml relay.
type xmlDir struct {
	direction
	f *framer
	w readWaiter
}

// pipeXML copies one direction to its end, framing it, and propagates EOF as
// CloseWrite, as relay.pipe does.
func (r *relay) pipeXML(d *xmlDir) {
	r.end(&d.direction, r.copyXML(d))
}

// copyXML reads, frames and writes until EOF (nil) or an error.
func (r *relay) copyXML(d *xmlDir) error {
	r.armIdle(d.src)
	for {
		if err := d.w.wait(d.src); err != nil {
			if isTimeout(err) {
				if r.idle > 0 && !r.idleExpired(d.src) {
					continue
				}
				return errIdle
			}
			return err
		}
		bp := xmlBufPool.Get().(*[]byte)
		buf := *bp
		n, rerr := d.src.Read(buf[1:])
		var werr error
		if n > 0 {
			r.touch()
			start, end, ferr := d.f.frame(buf, 1, n)
			if end > start {
				_, werr = d.dst.Write(buf[start:end])
				d.n += int64(end - start)
			}
			if werr == nil {
				werr = ferr
			}
		}
		xmlBufPool.Put(bp)
		if werr != nil {
			return werr
		}
		if rerr != nil {
			if rerr == io.EOF {
				if tail := d.f.flush(); tail != nil {
					if _, err := d.dst.Write(tail); err != nil {
						return err
					}
					d.n++
				}
				return nil
			}
			if isTimeout(rerr) {
				continue
			}
			return rerr
		}
	}
}

// readWaiter waits until a connection has bytes queued (or EOF, or an error)
// without holding a buffer: on a raw socket it parks in the poller through
// syscall.RawConn, peeking one byte. Other connections return at once and
// the caller's Read blocks instead.
type readWaiter struct {
	rc   syscall.RawConn
	fn   func(uintptr) bool
	peek [1]byte
}

func (w *readWaiter) wait(c net.Conn) error {
	if w.fn == nil {
		sc, ok := c.(syscall.Conn)
		if !ok {
			return nil
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return nil
		}
		w.rc = rc
		w.fn = w.poll
	}
	if w.rc == nil {
		return nil
	}
	err := w.rc.Read(w.fn)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && errors.Is(err, syscall.EBADF) {
		return net.ErrClosed
	}
	return err
}

// poll is the RawConn callback: false while nothing is queued.
func (w *readWaiter) poll(fd uintptr) bool {
	_, _, err := unix.Recvfrom(int(fd), w.peek[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	return err != unix.EAGAIN && err != unix.EINTR
}

// relay runs the relay to a dialed backend: framed for protocol "xml"
// (except TLS and HTTP, which are relayed as plain bytes), binary otherwise.
// Between raw TCP sockets it parks while idle (startRelay) and the
// connection is finished from the relay's callback (s.detached).
func (h *conn) relay(s summary, prefix []byte, bc net.Conn) summary {
	cfg := h.rt.cfg
	xml := cfg.Protocol == "xml" && s.kind != KindTLS && s.kind != KindHTTP
	if p := h.gw.parker; p != nil {
		client, ok1 := h.cc.(*net.TCPConn)
		backend, ok2 := bc.(*net.TCPConn)
		if ok1 && ok2 {
			var up, down *framer
			if xml {
				upMode, downMode := xmlModes(h.rt.backend.cfg.Framing)
				up, down = newFramer(upMode, cfg.MaxMessage), newFramer(downMode, cfg.MaxMessage)
				s.ext.proto = "xml"
			}
			s.detached = true
			startRelay(client, prefix, backend, cfg.IdleTimeout, p, up, down, func(r *relay) {
				h.mu.Lock()
				h.parked = r
				h.mu.Unlock()
			}, func(res relayResult) {
				fin := s
				fin.res, fin.detached = res, false
				if up != nil {
					fin.ext.msgsUp, fin.ext.msgsDown = up.msgs, down.msgs
				}
				h.finish(fin)
			})
			return s
		}
	}
	if xml {
		x := runXMLRelay(h.cc, prefix, bc, cfg.IdleTimeout, cfg.MaxMessage, h.rt.backend.cfg.Framing)
		s.res = x.relayResult
		s.ext.proto = "xml"
		s.ext.msgsUp, s.ext.msgsDown = x.MsgsUp, x.MsgsDown
		return s
	}
	s.res = runRelay(h.cc, prefix, bc, cfg.IdleTimeout)
	return s
}
