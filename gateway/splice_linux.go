package gateway

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// spliceMin is the queued byte count from which a direction splices instead
// of copying through a buffer: below it, two copies cost less than the pipe's
// two extra syscalls. Game messages are small; file transfers are not.
const spliceMin = 64 << 10

// maxRound bounds the bytes one splice round moves before the loop looks at
// the clock again.
const maxRound = 4 << 20

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
	want, inPipe int
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
		if err := t.srcRC.Read(t.readFn); err != nil {
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
		if t.f != nil {
			if err := t.writeFramed(); err != nil {
				return err
			}
			continue
		}
		full := t.n == len(*t.buf)
		_, err := t.dst.Write((*t.buf)[:t.n])
		d.n += int64(t.n)
		t.release()
		r.touch()
		if err != nil {
			return err
		}
		if full {
			avail, ierr := unix.IoctlGetInt(t.srcFD, unix.SIOCINQ)
			if ierr == nil && avail >= spliceMin {
				n, err := t.splice(min(avail, maxRound))
				r.spliced.Add(n)
				d.n += n
				if err != nil {
					return err
				}
			}
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

// splice moves up to want queued bytes from src to dst through a pooled pipe.
func (t *tcpDir) splice(want int) (int64, error) {
	p, err := getPipe()
	if err != nil {
		return 0, err
	}
	t.pipe = p
	var moved int64
	for want > 0 {
		t.want, t.inPipe, t.opErr = min(want, p.size), 0, nil
		if err := t.srcRC.Read(t.spliceInFn); err != nil {
			p.discard()
			return moved, err
		}
		if t.opErr != nil {
			p.discard()
			return moved, t.opErr
		}
		if t.inPipe == 0 { // EOF: the next wait reports it
			break
		}
		chunk := t.inPipe
		want -= chunk
		for t.inPipe > 0 {
			if err := t.dstRC.Write(t.spliceOutFn); err != nil {
				p.discard()
				return moved, err
			}
			if t.opErr != nil {
				p.discard()
				return moved, t.opErr
			}
		}
		moved += int64(chunk)
	}
	putPipe(p)
	t.pipe = nil
	return moved, nil
}

// spliceIn moves bytes from the socket into the pipe.
func (t *tcpDir) spliceIn(fd uintptr) bool {
	n, err := unix.Splice(int(fd), nil, t.pipe.w, nil, t.want, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return false
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

// pipe is a pipe pair used for splicing; pooled, never held while idle.
type pipe struct {
	r, w int
	size int
}

// pipePool keeps a few pipes for reuse; beyond it pipes are closed, so the
// number of descriptors follows the number of connections moving bulk data
// at this moment, not the number of connections.
var pipePool = make(chan *pipe, 64)

func getPipe() (*pipe, error) {
	select {
	case p := <-pipePool:
		return p, nil
	default:
	}
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("splice pipe: %w", err)
	}
	p := &pipe{r: fds[0], w: fds[1], size: 64 << 10}
	if n, err := unix.FcntlInt(uintptr(p.w), unix.F_SETPIPE_SZ, pipeSize); err == nil {
		p.size = n
	}
	return p, nil
}

func putPipe(p *pipe) {
	select {
	case pipePool <- p:
	default:
		p.discard()
	}
}

// discard closes a pipe that may still hold bytes.
func (p *pipe) discard() {
	unix.Close(p.r)
	unix.Close(p.w)
}
