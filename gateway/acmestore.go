package gateway

import (
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/tlsterm"
	"github.com/flashgate/flashgate/tlsterm/redisstore"
)

// redisStorages holds the Redis ACME storages of this process, one per
// distinct acme.redis block. Every listener's terminator, and every reload
// that keeps the block, shares the one connection pool (and the locks it
// holds); a changed block gets a new storage. They live as long as the
// process: certmagic's background renewals may use them until it exits.
var redisStorages = struct {
	mu sync.Mutex
	m  map[config.Redis]*redisstore.Storage
}{m: map[config.Redis]*redisstore.Storage{}}

// acmeRedisStorage returns the shared storage for rc, connecting (and
// checking the connection with a PING) the first time; log gets its lock
// renewal problems. A failure is not remembered: the next start or reload
// tries again.
func acmeRedisStorage(rc config.Redis, log zerolog.Logger) (*redisstore.Storage, error) {
	redisStorages.mu.Lock()
	defer redisStorages.mu.Unlock()
	if st := redisStorages.m[rc]; st != nil {
		return st, nil
	}
	if len(redisStorages.m) == 0 {
		redisstore.LogRedisTo(log)
	}
	sc := redisStoreConfig(rc)
	sc.Log = log.With().Str("component", "redisstore").Logger()
	st, err := redisstore.NewStorage(sc)
	if err != nil {
		return nil, fmt.Errorf("acme redis: %w", err)
	}
	redisStorages.m[rc] = st
	return st, nil
}

// redisStoreConfig maps the acme.redis block to redisstore.
func redisStoreConfig(rc config.Redis) redisstore.Config {
	return redisstore.Config{
		Address:   rc.Address,
		Password:  rc.Password,
		DB:        rc.DB,
		KeyPrefix: rc.KeyPrefix,
		TLS:       rc.TLS,
	}
}

// withACMEStorage sets the shared Redis storage on tc's ACME config when the
// acme block has a redis block (it then replaces acme.storage).
func withACMEStorage(tc tlsterm.TermConfig, cfg *config.Config, log zerolog.Logger) (tlsterm.TermConfig, error) {
	if tc.ACME == nil || cfg.ACME == nil || cfg.ACME.Redis == nil {
		return tc, nil
	}
	st, err := acmeRedisStorage(*cfg.ACME.Redis, log)
	if err != nil {
		return tc, err
	}
	a := *tc.ACME
	a.Storage = st
	a.StoragePath = ""
	tc.ACME = &a
	return tc, nil
}
