package redisstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flashgate/flashgate/tlsterm/redisstore/redistest"
)

func TestLockUnlock(t *testing.T) {
	ctx := context.Background()
	s := newStorage(t, redistest.Start(t), "t", 0)
	if err := s.Lock(ctx, "issue_cert_chat.example"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.TryLock(ctx, "issue_cert_chat.example"); ok || err != nil {
		t.Fatalf("TryLock on a held lock = %v, %v", ok, err)
	}
	ttl := s.client.PTTL(ctx, s.lockKey("issue_cert_chat.example")).Val()
	if ttl <= 0 || ttl > DefaultLockLease {
		t.Errorf("lock TTL %v, want a lease ≤ %v", ttl, DefaultLockLease)
	}
	// Waiting on a held lock ends with the context.
	wctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Lock(wctx, "issue_cert_chat.example"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock on a held lock with a deadline = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Lock honoured its context after %v", d)
	}
	if err := s.Unlock(ctx, "issue_cert_chat.example"); err != nil {
		t.Fatal(err)
	}
	if n := s.client.Exists(ctx, s.lockKey("issue_cert_chat.example")).Val(); n != 0 {
		t.Error("Unlock left the lock key")
	}
	if err := s.Unlock(ctx, "issue_cert_chat.example"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("second Unlock = %v, want ErrNotHeld", err)
	}
	if ok, err := s.TryLock(ctx, "issue_cert_chat.example"); !ok || err != nil {
		t.Fatalf("TryLock on a free lock = %v, %v", ok, err)
	}
	if err := s.Unlock(ctx, "issue_cert_chat.example"); err != nil {
		t.Fatal(err)
	}
}

// TestLockRace: two storages (two instances) race for one lock, many times:
// exactly one holds it at any moment, and a waiter gets it after Unlock.
func TestLockRace(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	holders := []*Storage{newStorage(t, srv, "t", 0), newStorage(t, srv, "t", 0)}

	var inside, maxInside, total atomic.Int64
	perHolder := make([]int, len(holders))
	var wg sync.WaitGroup
	const rounds = 25
	for i, s := range holders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := s.Lock(ctx, "race"); err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				if n > maxInside.Load() {
					maxInside.Store(n)
				}
				time.Sleep(2 * time.Millisecond)
				inside.Add(-1)
				total.Add(1)
				perHolder[i]++
				if err := s.Unlock(ctx, "race"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 || total.Load() != 2*rounds {
		t.Fatalf("at most %d holders at once (want 1), %d critical sections (want %d)", maxInside.Load(), total.Load(), 2*rounds)
	}
	t.Logf("critical sections per holder: %v", perHolder)

	// Handover: B waits while A holds, and gets the lock soon after A's
	// Unlock.
	a, b := holders[0], holders[1]
	if err := a.Lock(ctx, "handover"); err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		if err := b.Lock(ctx, "handover"); err != nil {
			t.Error(err)
		}
		got <- time.Now()
	}()
	select {
	case <-got:
		t.Fatal("B got the lock while A held it")
	case <-time.After(300 * time.Millisecond):
	}
	released := time.Now()
	if err := a.Unlock(ctx, "handover"); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-got:
		t.Logf("B acquired %v after A's Unlock", at.Sub(released).Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatal("B did not get the lock within 3s of A's Unlock")
	}
	if err := b.Unlock(ctx, "handover"); err != nil {
		t.Fatal(err)
	}
}

// TestLockRenewed: a lock held for several leases stays held: the holder
// renews it.
func TestLockRenewed(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	const lease = 600 * time.Millisecond
	a := newStorage(t, srv, "t", lease)
	b := newStorage(t, srv, "t", lease)
	if err := a.Lock(ctx, "long"); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(4 * lease)
	for time.Now().Before(end) {
		if ok, err := b.TryLock(ctx, "long"); ok || err != nil {
			t.Fatalf("B took a renewed lock after %v: %v, %v", time.Until(end), ok, err)
		}
		time.Sleep(lease / 5)
	}
	if err := a.Unlock(ctx, "long"); err != nil {
		t.Fatalf("Unlock after 4 leases: %v", err)
	}
}

// TestLockHolderKilled: the holder dies holding the lock (its connection is
// gone, nothing unlocks); the other instance gets the lock once the lease
// runs out, not before.
func TestLockHolderKilled(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	const lease = time.Second
	a, err := NewStorage(Config{Address: srv.Addr, KeyPrefix: "t", LockLease: lease})
	if err != nil {
		t.Fatal(err)
	}
	b := newStorage(t, srv, "t", lease)
	if err := a.Lock(ctx, "issue_cert_chat.example"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(lease / 2) // let A renew at least once
	// Kill A: its client is closed under it; renewals fail, no Unlock.
	killed := time.Now()
	a.client.Close()

	if err := b.Lock(ctx, "issue_cert_chat.example"); err != nil {
		t.Fatal(err)
	}
	waited := time.Since(killed)
	t.Logf("B acquired %v after A died (lease %v)", waited.Round(time.Millisecond), lease)
	if waited < lease/3 {
		t.Errorf("B acquired after %v, before A's lease could have run out", waited)
	}
	if waited > lease+maxPoll+500*time.Millisecond {
		t.Errorf("B acquired only after %v (lease %v)", waited, lease)
	}
	if err := b.Unlock(ctx, "issue_cert_chat.example"); err != nil {
		t.Fatal(err)
	}
	// A's late Unlock (it comes back?) must not touch B's lock: its token
	// is gone from Redis, and its client is closed anyway.
	a.mu.Lock()
	h := a.held["issue_cert_chat.example"]
	a.mu.Unlock()
	if h == nil {
		t.Fatal("A forgot its hold")
	}
	h.stop()
	<-h.done
}

// TestUnlockAfterLeaseLost: a holder whose lease ran out (and whose lock
// someone else took) does not release the new holder's lock.
func TestUnlockAfterLeaseLost(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a := newStorage(t, srv, "t", time.Second)
	b := newStorage(t, srv, "t", time.Second)
	if err := a.Lock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	// Simulate the lease running out under A: the key vanishes, B takes it.
	s := a.client.Del(ctx, a.lockKey("x"))
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
	if ok, err := b.TryLock(ctx, "x"); !ok || err != nil {
		t.Fatalf("B TryLock = %v, %v", ok, err)
	}
	if err := a.Unlock(ctx, "x"); !errors.Is(err, ErrNotHeld) {
		t.Errorf("A's Unlock after losing the lock = %v, want ErrNotHeld", err)
	}
	if ok, _ := a.TryLock(ctx, "x"); ok {
		t.Fatal("A's Unlock released B's lock")
	}
	if err := b.Unlock(ctx, "x"); err != nil {
		t.Fatal(err)
	}
}
