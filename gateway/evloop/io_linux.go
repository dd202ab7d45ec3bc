package evloop

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// An evented direction's reads and writes: bytes read are written on at
// once; what the destination does not take waits (all of it) in a buffer,
// and bulk data moves through a pooled splice pipe that goes back to the
// pool as soon as it is empty and the direction leaves bulk mode.

// bufSize is the size of a loop's read buffer and of the pooled buffers
// where bytes wait for a destination that did not take them.
const bufSize = 32 << 10

// bufPool holds the pending buffers of every loop.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// readQueued reads (or with MSG_PEEK peeks at) what socket fd has queued.
// Nothing queued clears *ready and returns 0 and no error; EOF returns
// io.EOF; other errors come wrapped.
func readQueued(fd int, p []byte, flags int, ready *bool) (int, error) {
	for {
		n, err := sysRecv(fd, p, flags)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			*ready = false
			return 0, nil
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// write sends p to dst; what dst does not take now waits in a pooled buffer.
func (e *Conn) write(d *evDir, dst int, p []byte, dstReady *bool) error {
	w := 0
	for *dstReady && w < len(p) {
		n, err := sysWrite(dst, p[w:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			*dstReady = false
			break
		}
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		w += n
	}
	d.n += int64(w)
	if w < len(p) {
		*dstReady = false
		d.stage(p[w:])
	}
	return nil
}

// stage keeps p, all of it, behind what d has pending: in a pooled buffer
// when it fits, else in one of its own (a policy answer larger than the
// socket's send buffer). The caller reads no more from d's source while
// anything is pending.
func (d *evDir) stage(p []byte) {
	if d.pend != nil && d.off == d.end {
		d.off, d.end = 0, 0
	}
	if d.pend == nil {
		if len(p) <= bufSize {
			d.pend = bufPool.Get().(*[]byte)
		} else {
			b := make([]byte, len(p))
			d.pend = &b
		}
		d.off, d.end = 0, 0
	}
	if d.end+len(p) > len(*d.pend) {
		b := make([]byte, d.end-d.off+len(p))
		n := copy(b, (*d.pend)[d.off:d.end])
		d.release()
		d.pend = &b
		d.off, d.end = 0, n
	}
	d.end += copy((*d.pend)[d.end:], p)
}

// release returns d's pending buffer (to the pool if it came from there).
func (d *evDir) release() {
	if d.pend != nil && len(*d.pend) == bufSize {
		bufPool.Put(d.pend)
	}
	d.pend, d.off, d.end = nil, 0, 0
}

// flush sends what waits in d's buffer or pipe.
func (e *Conn) flush(d *evDir, dst int, dstReady *bool) error {
	for d.end > d.off {
		n, err := sysWrite(dst, (*d.pend)[d.off:d.end])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			*dstReady = false
			return nil
		}
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		d.off += n
		d.n += int64(n)
	}
	if d.pend != nil {
		d.release()
	}
	for d.inPipe > 0 {
		n, err := sysSplice(d.pipe.r, dst, d.inPipe)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			*dstReady = false
			return nil
		}
		if err != nil {
			return os.NewSyscallError("splice", err)
		}
		d.inPipe -= n
		d.n += int64(n)
		d.splice += int64(n)
	}
	if !d.bulk {
		e.putPipe(d) // out of bulk mode: an idle direction holds no pipe
	}
	return nil
}

// spliceIn moves what src has queued into d's pipe (empty here: flush ran
// first). Little data ends bulk mode; nothing queued returns the pipe.
func (e *Conn) spliceIn(d *evDir, src int, srcReady *bool, now int64) (int, error) {
	if d.pipe == nil {
		p, err := getPipe()
		if err != nil {
			d.bulk = false // the buffer still works
			return 0, nil
		}
		d.pipe = p
	}
	n, err := sysSplice(src, d.pipe.w, d.pipe.size)
	switch {
	case err == unix.EINTR:
		return 0, nil
	case err == unix.EAGAIN:
		*srcReady = false
		e.putPipe(d)
		return 0, nil
	case err != nil:
		return 0, os.NewSyscallError("splice", err)
	case n == 0:
		d.eof = true
		e.putPipe(d)
		return 0, nil
	}
	e.last = now
	d.inPipe = n
	if n < bulkExit {
		d.bulk = false
	}
	return n, nil
}

// putPipe returns an empty pipe to the pool.
func (e *Conn) putPipe(d *evDir) {
	if d.pipe != nil && d.inPipe == 0 {
		putPipe(d.pipe)
		d.pipe = nil
	}
}
