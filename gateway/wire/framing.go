package wire

import (
	"bytes"
	"errors"
	"fmt"
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

// FrameMode is the framing of one direction of an xml connection.
type FrameMode uint8

// Framing modes of one direction.
const (
	FrameNUL     FrameMode = iota // NUL-terminated in, unchanged out
	FrameNULLine                  // NUL-terminated in, NUL replaced by "\n" (client → line backend)
	FrameLineNUL                  // "\n"/"\r\n"-terminated in, terminator replaced by NUL (line backend → client)
)

// Framer tracks messages in one direction of an xml connection. It keeps no
// buffer: it rewrites the caller's buffer in place, so the steady state
// allocates nothing. A Framer belongs to one direction of one connection.
type Framer struct {
	mode FrameMode
	max  int64   // largest message content in bytes; ≤ 0: unlimited
	cur  int64   // content bytes of the message in progress
	msgs int64   // complete messages seen
	cr   bool    // FrameLineNUL: a '\r' ending the previous chunk, held back
	tail [1]byte // what Flush returns
}

// NewFramer returns a framer for mode whose messages may hold at most max
// content bytes (≤ 0: unlimited).
func NewFramer(mode FrameMode, max int64) *Framer { return &Framer{mode: mode, max: max} }

// XMLModes returns the framing of the client→backend and backend→client
// directions for a backend framing ("nul" or "line").
func XMLModes(backendFraming string) (up, down FrameMode) {
	if backendFraming == "line" {
		return FrameNULLine, FrameLineNUL
	}
	return FrameNUL, FrameNUL
}

// Msgs returns the number of complete messages seen.
func (f *Framer) Msgs() int64 { return f.msgs }

func (f *Framer) tooLarge() error {
	return fmt.Errorf("%w (%d bytes)", ErrMessageTooLarge, f.max)
}

// Frame processes the n bytes at buf[off:] in place and returns the output
// region buf[start:end]. In FrameLineNUL mode off must be ≥ 1: buf[off-1] may
// receive a '\r' held back from the previous chunk. On ErrMessageTooLarge the
// region ends after the last complete message.
func (f *Framer) Frame(buf []byte, off, n int) (start, end int, err error) {
	if f.mode == FrameLineNUL {
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
		if f.mode == FrameNULLine {
			p[done-1] = '\n'
		}
	}
	return off, off + n, nil
}

func (f *Framer) frameLines(buf []byte, off, n int) (start, end int, err error) {
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

// Flush returns what the direction still holds back at EOF: a trailing
// '\r', or nil. The slice is the framer's own and valid until the next call.
func (f *Framer) Flush() []byte {
	if f.cr {
		f.cr = false
		f.tail[0] = '\r'
		return f.tail[:]
	}
	return nil
}
