package evloop

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The splice pipe pool: pipe pairs that carry bulk data between two
// sockets, lent to a direction while it moves bulk data and returned as
// soon as the pipe is empty again, so an idle connection holds none.

// bulkExit: a splice round that moves less than this ends bulk mode; small
// messages are cheaper through the buffer (io_linux.go).
const bulkExit = 16 << 10

// pipeSize is the capacity asked for each splice pipe (the kernel may refuse;
// then the default 64 KiB stays).
const pipeSize = 1 << 20

// pipe is a pipe pair used for splicing; pooled, never held while idle.
type pipe struct {
	r, w int
	size int
	used time.Time // when it went back to the pool
}

// pipePool keeps a few pipes for reuse: at most pipePoolMax, and none that
// sat unused for pipeIdle, so the descriptors follow the connections moving
// bulk data now, and a quiet gateway holds no pipe at all. It is shared by
// every relay in the process, like the buffer pool.
var pipePool pipeCache

const (
	pipePoolMax = 64
	pipeIdle    = 5 * time.Second
)

type pipeCache struct {
	mu    sync.Mutex
	free  []*pipe // most recently used last
	sweep *time.Timer
}

func getPipe() (*pipe, error) {
	pipePool.mu.Lock()
	if n := len(pipePool.free); n > 0 {
		p := pipePool.free[n-1]
		pipePool.free = pipePool.free[:n-1]
		pipePool.mu.Unlock()
		return p, nil
	}
	pipePool.mu.Unlock()
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
	c := &pipePool
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.free) >= pipePoolMax {
		p.discard()
		return
	}
	p.used = time.Now()
	c.free = append(c.free, p)
	if c.sweep == nil {
		c.sweep = time.AfterFunc(pipeIdle, c.expire)
	}
}

// expire closes pipes unused for pipeIdle; it runs while any are pooled.
func (c *pipeCache) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	cut := time.Now().Add(-pipeIdle)
	n := 0
	for _, p := range c.free { // oldest first
		if p.used.After(cut) {
			break
		}
		p.discard()
		n++
	}
	c.free = append(c.free[:0], c.free[n:]...)
	if len(c.free) > 0 {
		c.sweep.Reset(pipeIdle)
	} else {
		c.sweep = nil
	}
}

// PooledPipes reports how many idle pipes the pool holds (tests count
// descriptors).
func PooledPipes() int {
	pipePool.mu.Lock()
	defer pipePool.mu.Unlock()
	return len(pipePool.free)
}

// discard closes a pipe that may still hold bytes.
func (p *pipe) discard() {
	unix.Close(p.r)
	unix.Close(p.w)
}

// EmptyPipePool closes every pooled pipe now, as their expiry would after
// pipeIdle (tests count descriptors).
func EmptyPipePool() {
	pipePool.mu.Lock()
	defer pipePool.mu.Unlock()
	for _, p := range pipePool.free {
		p.discard()
	}
	pipePool.free = pipePool.free[:0]
}
