package redisstore

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotHeld is returned by Unlock for a lock this storage does not hold, or
// whose lease ran out and was taken by someone else in the meantime.
var ErrNotHeld = errors.New("lock not held")

// Lock polling: the first retry after minPoll, doubling up to maxPoll, with
// jitter so that waiting instances do not poll in step.
const (
	minPoll = 20 * time.Millisecond
	maxPoll = time.Second
)

// heldLock is a lock this storage holds: its token and its renewal
// goroutine.
type heldLock struct {
	token string
	stop  context.CancelFunc
	done  chan struct{}
}

// renewScript extends the lease only while the lock still holds our token.
// KEYS[1] lock; ARGV[1] token, ARGV[2] lease in ms.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// unlockScript deletes the lock only while it holds our token.
// KEYS[1] lock; ARGV[1] token.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

func (s *Storage) lockKey(name string) string { return s.prefix + "lock:" + name }

// Lock blocks until it holds the lock name or ctx ends. It polls Redis with
// a capped backoff (never sleeping past the current holder's lease), so a
// lock whose holder died is taken at most about maxPoll after its lease
// runs out. A Redis error ends the wait with that error.
func (s *Storage) Lock(ctx context.Context, name string) error {
	wait := minPoll
	for {
		ok, err := s.TryLock(ctx, name)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		d := wait/2 + rand.N(wait/2+1) // jitter in [wait/2, wait]
		if ttl, err := s.client.PTTL(ctx, s.lockKey(name)).Result(); err == nil && ttl > 0 && ttl < d {
			d = ttl
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("redisstore: lock %s: %w", name, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, maxPoll)
	}
}

// TryLock takes the lock name if it is free and reports whether it did.
// certmagic uses it where another instance holding the lock means the work
// is already being done.
func (s *Storage) TryLock(ctx context.Context, name string) (bool, error) {
	token, err := newToken()
	if err != nil {
		return false, err
	}
	ok, err := s.client.SetNX(ctx, s.lockKey(name), token, s.lease).Result()
	if err != nil {
		return false, fmt.Errorf("redisstore: lock %s: %w", name, err)
	}
	if !ok {
		return false, nil
	}
	rctx, stop := context.WithCancel(context.Background())
	h := &heldLock{token: token, stop: stop, done: make(chan struct{})}
	s.mu.Lock()
	if old := s.held[name]; old != nil {
		// Our earlier hold of this name lost its lease (its renewals
		// failed) and we took it again: that renewal goroutine is moot.
		old.stop()
	}
	s.held[name] = h
	s.mu.Unlock()
	go s.renew(rctx, name, h)
	return true, nil
}

// renew keeps the lease of a held lock alive every lease/3 until Unlock
// stops it. A renewal that finds another token stops: the lock was lost.
func (s *Storage) renew(ctx context.Context, name string, h *heldLock) {
	defer close(h.done)
	t := time.NewTicker(s.lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, s.lease/3)
		n, err := renewScript.Run(rctx, s.client, []string{s.lockKey(name)}, h.token, s.lease.Milliseconds()).Int()
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn().Err(err).Str("lock", name).Msg("redisstore: lock lease renewal failed; retrying")
		case n == 0:
			s.log.Error().Str("lock", name).Dur("lease", s.lease).Msg("redisstore: lock lost: its lease ran out before renewal")
			return
		}
	}
}

// Unlock releases the lock name if this storage holds it: it stops the
// renewal and deletes the lock only if it still holds this holder's token.
func (s *Storage) Unlock(ctx context.Context, name string) error {
	s.mu.Lock()
	h := s.held[name]
	delete(s.held, name)
	s.mu.Unlock()
	if h == nil {
		return fmt.Errorf("redisstore: unlock %s: %w", name, ErrNotHeld)
	}
	h.stop()
	<-h.done
	n, err := unlockScript.Run(context.WithoutCancel(ctx), s.client, []string{s.lockKey(name)}, h.token).Int()
	if err != nil {
		return fmt.Errorf("redisstore: unlock %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: unlock %s: lease ran out: %w", name, ErrNotHeld)
	}
	return nil
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := cryptorand.Read(b[:]); err != nil {
		return "", fmt.Errorf("redisstore: lock token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
