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

// runXMLRelay relays an XMLSocket connection through the one relay
// (relayStreams): NUL-framed messages both ways, max_message enforced per
// message, "line" backend framing translated. prefix holds bytes already
// read from the client. Both connections are closed when it returns.
func runXMLRelay(client net.Conn, prefix []byte, backend net.Conn, idle time.Duration, max int64, backendFraming string) xmlResult {
	upMode, downMode := xmlModes(backendFraming)
	up, down := newFramer(upMode, max), newFramer(downMode, max)
	res := relayStreams(client, prefix, backend, idle, up, down)
	return xmlResult{relayResult: res, MsgsUp: up.msgs, MsgsDown: down.msgs}
}

// atEOF settles a read that returned err: at io.EOF it writes what the
// direction's framer held back (a lone '\r') and reports true.
func (d *direction) atEOF(err error) (bool, error) {
	if err != io.EOF {
		return false, nil
	}
	if d.f != nil {
		if tail := d.f.flush(); tail != nil {
			if err := d.write(tail); err != nil {
				return true, err
			}
			d.n++
		}
	}
	return true, nil
}

// readWaiter waits until a connection has bytes queued (or EOF, or an error)
// without holding a buffer: on a raw socket it parks in the poller through
// syscall.RawConn, peeking one byte. Other connections return at once and
// the caller's Read blocks instead.
type readWaiter struct {
	rc   syscall.RawConn
	fn   func(uintptr) bool
	err  error // an error the peek took off the socket (a reset)
	peek [1]byte
}

func (w *readWaiter) wait(c net.Conn) error {
	if w.fn == nil {
		w.fn = w.poll
		if sc, ok := c.(syscall.Conn); ok && canWait {
			if rc, err := sc.SyscallConn(); err == nil {
				w.rc = rc
			}
		}
	}
	return w.waitRaw(w.rc)
}

// waitRaw is wait on the raw socket rc (nil: return at once).
func (w *readWaiter) waitRaw(rc syscall.RawConn) error {
	if rc == nil {
		return nil
	}
	if w.fn == nil {
		w.fn = w.poll
	}
	err := rc.Read(w.fn)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && errors.Is(err, syscall.EBADF) {
		return net.ErrClosed
	}
	if err == nil && w.err != nil {
		err, w.err = w.err, nil
	}
	return err
}

// poll is the RawConn callback: false while nothing is queued. A socket
// error the peek reports is taken off the socket by it (a read after it
// would see EOF instead of the reset), so it is kept for waitRaw to return.
func (w *readWaiter) poll(fd uintptr) bool {
	_, _, err := unix.Recvfrom(int(fd), w.peek[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
	if err == unix.EAGAIN || err == unix.EINTR {
		return false
	}
	if err != nil {
		w.err = os.NewSyscallError("read", err)
	}
	return true
}

// relay runs the relay to a dialed backend: framed for protocol "xml"
// (except TLS and HTTP, which are relayed as plain bytes), binary otherwise.
func (h *conn) relay(s summary, prefix []byte, bc net.Conn) summary {
	cfg := h.rt.cfg
	if cfg.Protocol == "xml" && s.kind != KindTLS && s.kind != KindHTTP {
		x := runXMLRelay(h.cc, prefix, bc, cfg.IdleTimeout, cfg.MaxMessage, h.rt.backend.cfg.Framing)
		s.res = x.relayResult
		s.ext.proto = "xml"
		s.ext.msgsUp, s.ext.msgsDown = x.MsgsUp, x.MsgsDown
		return s
	}
	s.res = runRelay(h.cc, prefix, bc, cfg.IdleTimeout)
	return s
}
