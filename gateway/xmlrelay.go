package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// XMLSocket framing. An XMLSocket message is an XML document followed by one
// NUL byte. The xml relay passes the bytes through unchanged and only counts
// messages and enforces max_message, except for a backend with framing
// "line": there each client NUL becomes "\n", and each backend line ("\n" or
// "\r\n") reaches the client ending in NUL instead.
//
// max_message bounds a message's content, its terminator excluded. A message
// over it ends that connection (both sides closed, the reason logged); the
// complete messages before it in the same read are still delivered. A line
// backend sees the client's bytes as they are: a newline inside an XML
// message reaches it as a line break.

// ErrMessageTooLarge ends an xml connection whose message exceeded
// max_message.
var ErrMessageTooLarge = errors.New("message over max_message")

// Framing modes of one direction.
const (
	frameNUL     = iota // NUL-terminated in, unchanged out
	frameNULLine        // NUL-terminated in, NUL replaced by "\n" (client → line backend)
	frameLineNUL        // "\n"/"\r\n"-terminated in, terminator replaced by NUL (line backend → client)
)

// framer tracks messages in one direction of an xml connection. It keeps no
// buffer: it rewrites the caller's buffer in place, so the steady state
// allocates nothing.
type framer struct {
	mode int
	max  int64 // largest message content in bytes; ≤ 0: unlimited
	cur  int64 // content bytes of the message in progress
	msgs int64 // complete messages seen
	cr   bool  // frameLineNUL: a '\r' ending the previous chunk, held back
}

func newFramer(mode int, max int64) *framer { return &framer{mode: mode, max: max} }

// xmlModes returns the framing of the client→backend and backend→client
// directions for a backend framing ("nul" or "line").
func xmlModes(backendFraming string) (up, down int) {
	if backendFraming == "line" {
		return frameNULLine, frameLineNUL
	}
	return frameNUL, frameNUL
}

func (f *framer) tooLarge() error {
	return fmt.Errorf("%w (%d bytes)", ErrMessageTooLarge, f.max)
}

// frame processes the n bytes at buf[off:] in place and returns the output
// region buf[start:end]. In frameLineNUL mode off must be ≥ 1: buf[off-1] may
// receive a '\r' held back from the previous chunk. On ErrMessageTooLarge the
// region ends after the last complete message.
func (f *framer) frame(buf []byte, off, n int) (start, end int, err error) {
	if f.mode == frameLineNUL {
		return f.frameLines(buf, off, n)
	}
	p := buf[off : off+n]
	done := 0
	for done < len(p) {
		i := bytes.IndexByte(p[done:], 0)
		if i < 0 {
			f.cur += int64(len(p) - done)
			if f.max > 0 && f.cur > f.max {
				return off, off + done, f.tooLarge()
			}
			break
		}
		f.cur += int64(i)
		if f.max > 0 && f.cur > f.max {
			return off, off + done, f.tooLarge()
		}
		f.cur = 0
		f.msgs++
		done += i + 1
		if f.mode == frameNULLine {
			p[done-1] = '\n'
		}
	}
	return off, off + n, nil
}

func (f *framer) frameLines(buf []byte, off, n int) (start, end int, err error) {
	start, w, i, in := off, off, off, off+n
	last := off // end of the last complete output message
	if f.cr && n > 0 {
		f.cr = false
		if buf[off] != '\n' { // a lone '\r': it was data
			start = off - 1
			buf[start] = '\r'
			f.cur++
		}
		// else: "\r\n" split across reads; the '\n' below ends the line.
	}
	for i < in {
		j := bytes.IndexByte(buf[i:in], '\n')
		if j < 0 {
			seg := in - i
			if buf[in-1] == '\r' {
				seg--
				f.cr = true
			}
			f.cur += int64(seg)
			if f.max > 0 && f.cur > f.max {
				return start, last, f.tooLarge()
			}
			w += copy(buf[w:], buf[i:i+seg])
			break
		}
		content := j
		if content > 0 && buf[i+j-1] == '\r' {
			content--
		}
		f.cur += int64(content)
		if f.max > 0 && f.cur > f.max {
			return start, last, f.tooLarge()
		}
		w += copy(buf[w:], buf[i:i+content])
		buf[w] = 0
		w++
		last = w
		f.cur = 0
		f.msgs++
		i += j + 1
	}
	return start, w, nil
}

// flush returns what a direction still holds back at EOF: a trailing '\r'.
func (f *framer) flush() []byte {
	if f.cr {
		f.cr = false
		return []byte{'\r'}
	}
	return nil
}

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
