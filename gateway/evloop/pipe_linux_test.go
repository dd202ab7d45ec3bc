package evloop

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pipeInode identifies a pipe by its read end: 0 once that descriptor is
// closed, or another inode once the number is reused.
func pipeInode(p *pipe) uint64 {
	var st unix.Stat_t
	if unix.Fstat(p.r, &st) != nil {
		return 0
	}
	return st.Ino
}

// drainPipePool closes every pooled pipe.
func drainPipePool() {
	pipePool.mu.Lock()
	defer pipePool.mu.Unlock()
	for _, p := range pipePool.free {
		p.discard()
	}
	pipePool.free = pipePool.free[:0]
}

func mustGetPipe(t *testing.T) *pipe {
	t.Helper()
	p, err := getPipe()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSplicePipesExpire: the splice pipe pool closes a pipe that sat
// unused for pipeIdle and keeps a fresher one; its own timer closes the
// rest later, so a quiet gateway holds no pipe.
func TestSplicePipesExpire(t *testing.T) {
	drainPipePool()
	t.Cleanup(drainPipePool)
	old, fresh := mustGetPipe(t), mustGetPipe(t)
	oldIno, freshIno := pipeInode(old), pipeInode(fresh)
	putPipe(old)
	putPipe(fresh)
	if got := PooledPipes(); got != 2 {
		t.Fatalf("%d pooled pipes, want 2", got)
	}
	pipePool.mu.Lock()
	old.used = old.used.Add(-pipeIdle) // as if returned pipeIdle earlier
	pipePool.mu.Unlock()
	pipePool.expire()
	if got := PooledPipes(); got != 1 {
		t.Fatalf("%d pooled pipes after the expiry, want 1 (the fresh one)", got)
	}
	if pipeInode(old) == oldIno {
		t.Fatal("the pipe idle for pipeIdle is still open")
	}
	if pipeInode(fresh) != freshIno {
		t.Fatal("the fresh pipe was closed")
	}
	// The pool's timer does the same by itself: at most two rounds of
	// pipeIdle (the one running, then the fresh pipe's), and a bound far
	// beyond that for a loaded machine.
	deadline := time.Now().Add(6 * pipeIdle)
	for PooledPipes() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := PooledPipes(); got != 0 {
		t.Fatalf("%d pooled pipes left %v after their use", got, 6*pipeIdle)
	}
	if pipeInode(fresh) == freshIno {
		t.Fatal("the expired pipe's descriptors are still open")
	}
}

// TestSplicePipePoolBounded: pipes returned beyond pipePoolMax are closed
// at once, not kept.
func TestSplicePipePoolBounded(t *testing.T) {
	drainPipePool()
	t.Cleanup(drainPipePool)
	ps := make([]*pipe, pipePoolMax+2)
	inos := make([]uint64, len(ps))
	for i := range ps {
		ps[i] = mustGetPipe(t)
		inos[i] = pipeInode(ps[i])
	}
	for _, p := range ps {
		putPipe(p)
	}
	if got := PooledPipes(); got != pipePoolMax {
		t.Fatalf("%d pooled pipes, want pipePoolMax (%d)", got, pipePoolMax)
	}
	for i, p := range ps[pipePoolMax:] {
		if pipeInode(p) == inos[pipePoolMax+i] {
			t.Fatalf("pipe %d over the bound is still open", pipePoolMax+i)
		}
	}
}
