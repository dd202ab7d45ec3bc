package gateway

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"unsafe"

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
// are method values built once, so waiting and splicing allocate nothing.
type tcpDir struct {
	src, dst     *net.TCPConn
	srcRC, dstRC syscall.RawConn
	peek         [1]byte
	avail        int   // bytes queued on src, after waitFn
	eof          bool  // src reached EOF
	opErr        error // error from the last callback
	pipe         *pipe
	want, inPipe int
	waitFn       func(uintptr) bool
	spliceInFn   func(uintptr) bool
	spliceOutFn  func(uintptr) bool
}

// copyTCP copies src to dst, both raw TCP sockets. It waits for readability
// without holding a buffer or a pipe, then moves what is queued: small
// amounts through a pooled buffer, bulk through splice(2) so the bytes never
// enter user space. It returns nil on EOF.
func (r *relay) copyTCP(d *direction, src, dst *net.TCPConn) error {
	t := &tcpDir{src: src, dst: dst}
	var err error
	if t.srcRC, err = src.SyscallConn(); err != nil {
		return fmt.Errorf("raw %s conn: %w", d.srcName, err)
	}
	if t.dstRC, err = dst.SyscallConn(); err != nil {
		return fmt.Errorf("raw %s conn: %w", d.dstName, err)
	}
	t.waitFn = t.wait
	t.spliceInFn = t.spliceIn
	t.spliceOutFn = t.spliceOut
	r.armIdle(src)
	for {
		t.avail, t.eof, t.opErr = 0, false, nil
		if err := t.srcRC.Read(t.waitFn); err != nil {
			if isTimeout(err) {
				if r.idle > 0 && !r.idleExpired(src) {
					continue
				}
				return errIdle
			}
			return err
		}
		if t.opErr != nil {
			return t.opErr
		}
		if t.eof {
			return nil
		}
		var n int64
		if t.avail >= spliceMin {
			n, err = t.splice(min(t.avail, maxRound))
			r.spliced.Add(n)
		} else {
			n, err = copyOnce(src, dst)
		}
		if n > 0 {
			d.n += n
			r.touch()
		}
		if err != nil {
			return err
		}
	}
}

// wait is the readability callback: it peeks one byte without consuming it.
// It returns false (wait for the poller) while nothing is queued.
func (t *tcpDir) wait(fd uintptr) bool {
	// A raw recvfrom: unix.Recvfrom allocates a sockaddr per call.
	r, _, errno := unix.Syscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&t.peek[0])), 1,
		unix.MSG_PEEK|unix.MSG_DONTWAIT, 0, 0)
	var err error
	if errno != 0 {
		err = errno
	}
	n := int(r)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return false
	case err != nil:
		t.opErr = err
	case n == 0:
		t.eof = true
	default:
		t.avail, err = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
		if err != nil || t.avail < 1 {
			t.avail = 1
		}
	}
	return true
}

// copyOnce moves one read's worth of queued bytes through a pooled buffer.
func copyOnce(src, dst *net.TCPConn) (int64, error) {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	n, err := src.Read(*bp)
	if n > 0 {
		if _, werr := dst.Write((*bp)[:n]); werr != nil {
			return 0, werr
		}
	}
	if err != nil && !isTimeout(err) && !errors.Is(err, io.EOF) {
		return int64(n), err
	}
	return int64(n), nil
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
