package gateway

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// maxRound bounds the bytes one splice round moves before the loop looks at
// the clock again.
const maxRound = 4 << 20

// bulkExit: a splice round that moves less than this ends bulk mode; small
// messages are cheaper through the buffer.
const bulkExit = 16 << 10

// pipeSize is the capacity asked for each splice pipe (the kernel may refuse;
// then the default 64 KiB stays).
const pipeSize = 1 << 20

// tcpDir is the per-direction state of the raw TCP copy loop. Its callbacks
// are method values built once, so reading and splicing allocate nothing.
type tcpDir struct {
	r            *relay
	d            *direction
	src, dst     *net.TCPConn
	srcRC, dstRC syscall.RawConn
	srcFD        int
	buf          *[]byte // borrowed from copyBufPool only while it holds data
	n            int     // bytes read into buf by readFn
	eof          bool    // src reached EOF
	opErr        error   // error from the last callback
	pipe         *pipe
	inPipe       int  // bytes in the pipe, still to go out
	bulk         bool // splice mode: the last read filled the buffer
	waitSplice   bool // spliceIn waits in the poller when nothing is queued
	empty        bool // spliceIn found nothing queued
	readFn       func(uintptr) bool
	spliceInFn   func(uintptr) bool
	spliceOutFn  func(uintptr) bool

	park   *parker // nil: wait in the Go poller
	token  uint64  // parker bookkeeping
	parkFD int

	// f frames XMLSocket messages (protocol xml): reads land at buf[1:] so
	// line framing has room for a held-back '\r'; no splice.
	f *framer
}

// parkAfter is how long a direction waits in the Go poller (cheap to wake)
// before it parks (cheap to keep): connections that exchange messages
// faster than this never park, idle ones give their goroutine back after
// this much quiet. Longer keeps more goroutines (and Go keeps their memory
// once it has grown); shorter costs three syscalls per message to chatty
// but slow connections.
const parkAfter = 100 * time.Millisecond

// errParked ends a copy loop whose direction was handed to the parker: its
// goroutine must return without touching the direction again.
var errParked = errors.New("parked")

// newTCPDir prepares the copy loop of one direction between raw sockets.
func (r *relay) newTCPDir(d *direction, src, dst *net.TCPConn, p *parker) (*tcpDir, error) {
	t := &tcpDir{r: r, d: d, src: src, dst: dst, park: p}
	var err error
	if t.srcRC, err = src.SyscallConn(); err != nil {
		return nil, fmt.Errorf("raw %s conn: %w", d.srcName, err)
	}
	if t.dstRC, err = dst.SyscallConn(); err != nil {
		return nil, fmt.Errorf("raw %s conn: %w", d.dstName, err)
	}
	_ = t.srcRC.Control(func(fd uintptr) { t.srcFD = int(fd) })
	t.readFn = t.read
	t.spliceInFn = t.spliceIn
	t.spliceOutFn = t.spliceOut
	return t, nil
}

// copyTCP copies src to dst, both raw TCP sockets, waiting in the Go poller
// (see loop). It returns nil on EOF.
func (r *relay) copyTCP(d *direction, src, dst *net.TCPConn) error {
	t, err := r.newTCPDir(d, src, dst, nil)
	if err != nil {
		return err
	}
	r.armIdle(src)
	return t.loop()
}

// loop copies until EOF (nil), an error, or, with a parker, until nothing is
// queued (errParked). Each round reads what is queued straight into a pooled
// buffer; when nothing is queued the buffer goes back to the pool before the
// direction waits, so an idle connection holds no buffer and no pipe. A read
// that fills the whole buffer means bulk data: what is still queued then
// moves by splice(2), without entering user space.
func (t *tcpDir) loop() error {
	r, d := t.r, t.d
	for {
		t.n, t.eof, t.opErr = 0, false, nil
		if t.park != nil {
			// Wait in the Go poller while the connection is busy; park
			// once it has been quiet for parkAfter.
			_ = t.src.SetReadDeadline(time.Now().Add(parkAfter))
		}
		var err error
		if t.bulk {
			// Bulk mode: wait and move by splice, like io.Copy does, until
			// a round moves little again.
			var n int64
			n, err = t.splice()
			if n > 0 {
				r.spliced.Add(n)
				d.n += n
				r.touch()
			}
			if err == nil && !t.eof && n < bulkExit {
				t.bulk = false
			}
		} else {
			err = t.srcRC.Read(t.readFn)
		}
		if err != nil {
			t.release()
			if isTimeout(err) && t.park != nil {
				if err := t.park.park(t, t.srcFD); err == nil {
					return errParked
				}
				t.park = nil // wait in the Go poller from now on
				_ = t.src.SetReadDeadline(time.Time{})
				continue
			}
			if isTimeout(err) {
				if r.idle > 0 && !r.idleExpired(t.src) {
					continue
				}
				return errIdle
			}
			return err
		}
		if t.opErr != nil {
			t.release()
			return t.opErr
		}
		if t.eof {
			t.release()
			return t.flushFramer()
		}
		if t.bulk || t.n == 0 {
			continue
		}
		if t.f != nil {
			if err := t.writeFramed(); err != nil {
				return err
			}
			continue
		}
		// A read that fills the whole buffer means bulk data: splice from
		// the next round on.
		t.bulk = t.n == len(*t.buf)
		_, err = t.dst.Write((*t.buf)[:t.n])
		d.n += int64(t.n)
		t.release()
		r.touch()
		if err != nil {
			return err
		}
	}
}

// writeFramed frames what read brought (at buf[1:]) and writes the
// complete output; over max_message it writes what came before the
// offending message and returns ErrMessageTooLarge.
func (t *tcpDir) writeFramed() error {
	start, end, ferr := t.f.frame(*t.buf, 1, t.n)
	var err error
	if end > start {
		_, err = t.dst.Write((*t.buf)[start:end])
		t.d.n += int64(end - start)
	}
	t.release()
	t.r.touch()
	if err != nil {
		return err
	}
	return ferr
}

// flushFramer writes what a framer held back at EOF (a lone '\r').
func (t *tcpDir) flushFramer() error {
	if t.f == nil {
		return nil
	}
	if tail := t.f.flush(); tail != nil {
		if _, err := t.dst.Write(tail); err != nil {
			return err
		}
		t.d.n++
	}
	return nil
}

// resume runs a direction on from where it parked, in a goroutine of its
// own; the parker calls it when the socket becomes readable.
func (t *tcpDir) resume() {
	err := t.loop()
	if err == errParked {
		return
	}
	t.r.endDir(t.d, err)
}

// read is the read callback: it borrows a buffer and reads what is queued.
// With nothing queued it returns the buffer and false: the goroutine waits
// in the poller holding no buffer.
func (t *tcpDir) read(fd uintptr) bool {
	if t.buf == nil {
		t.buf = copyBufPool.Get().(*[]byte)
	}
	b := *t.buf
	if t.f != nil {
		b = b[1:]
	}
	n, err := unix.Read(int(fd), b)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		t.release()
		return false
	case err != nil:
		t.opErr = err
	case n == 0:
		t.eof = true
	default:
		t.n = n
	}
	return true
}

// release returns the borrowed buffer.
func (t *tcpDir) release() {
	if t.buf != nil {
		copyBufPool.Put(t.buf)
		t.buf = nil
	}
}

// splice waits until src has bytes (or EOF), then moves what is queued to
// dst through a pooled pipe, up to maxRound bytes. The pipe is returned to
// the pool before any wait, so a waiting direction holds none.
func (t *tcpDir) splice() (int64, error) {
	var moved int64
	defer t.putPipe()
	for moved < maxRound {
		t.inPipe, t.opErr, t.empty = 0, nil, false
		t.waitSplice = moved == 0
		if err := t.srcRC.Read(t.spliceInFn); err != nil {
			return moved, err
		}
		if t.opErr != nil || t.empty {
			return moved, nil
		}
		if t.inPipe == 0 {
			t.eof = true
			return moved, nil
		}
		chunk := t.inPipe
		for t.inPipe > 0 {
			if err := t.dstRC.Write(t.spliceOutFn); err != nil {
				t.pipe.discard()
				t.pipe = nil
				return moved, err
			}
			if t.opErr != nil {
				t.pipe.discard()
				t.pipe = nil
				return moved, nil
			}
		}
		moved += int64(chunk)
	}
	return moved, nil
}

// putPipe returns an empty pipe to the pool.
func (t *tcpDir) putPipe() {
	if t.pipe != nil {
		putPipe(t.pipe)
		t.pipe = nil
	}
}

// spliceIn moves what is queued on the socket into the pipe. With nothing
// queued it returns the pipe to the pool and either waits for the poller
// (the first splice of a round) or reports empty.
func (t *tcpDir) spliceIn(fd uintptr) bool {
	if t.pipe == nil {
		p, err := getPipe()
		if err != nil {
			t.opErr = err
			return true
		}
		t.pipe = p
	}
	n, err := unix.Splice(int(fd), nil, t.pipe.w, nil, t.pipe.size, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		// The pipe is empty here (pumped out after every splice in), so
		// EAGAIN means the socket has nothing queued.
		t.putPipe()
		if t.waitSplice {
			return false
		}
		t.empty = true
	case err != nil:
		t.opErr = err
	default:
		t.inPipe = int(n)
	}
	return true
}

// spliceOut moves bytes from the pipe into the socket.
func (t *tcpDir) spliceOut(fd uintptr) bool {
	n, err := unix.Splice(t.pipe.r, nil, int(fd), nil, t.inPipe, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return false
	case err != nil:
		t.opErr = err
	default:
		t.inPipe -= int(n)
	}
	return true
}
