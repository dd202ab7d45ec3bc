package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rs/zerolog"
)

// DefaultKeyPrefix is the key prefix when Config.KeyPrefix is empty.
const DefaultKeyPrefix = "flashgate"

// DefaultLockLease is how long a lock outlives a holder that stopped
// renewing it (it died, or lost Redis).
const DefaultLockLease = 10 * time.Second

// Config is the acme.redis block, as plain Go.
type Config struct {
	Address  string // host:port
	Password string
	DB       int
	// KeyPrefix namespaces every key ("{PREFIX}:..."); instances that share
	// certificates use the same prefix. Default DefaultKeyPrefix.
	KeyPrefix string
	// TLS connects with TLS, verifying the server against the system roots
	// (or TLSConfig, when set).
	TLS       bool
	TLSConfig *tls.Config
	// LockLease is a lock's time to live without renewal; default
	// DefaultLockLease. The holder renews it every LockLease/3.
	LockLease time.Duration
	// Log receives lock renewal problems; the zero value logs nothing.
	Log zerolog.Logger
}

// Storage is a certmagic.Storage (and certmagic.TryLocker) on Redis. Build
// it with NewStorage; Close it when done.
type Storage struct {
	client *redis.Client
	prefix string // "{PREFIX}:"
	index  string // "{PREFIX}:index"
	lease  time.Duration
	log    zerolog.Logger
	desc   string

	mu   sync.Mutex
	held map[string]*heldLock
}

var (
	_ certmagic.Storage   = (*Storage)(nil)
	_ certmagic.TryLocker = (*Storage)(nil)
)

// NewStorage connects to Redis and checks the connection with a PING (5 s
// at most), so a wrong address or password shows at start.
func NewStorage(cfg Config) (*Storage, error) {
	if cfg.Address == "" {
		return nil, errors.New("redisstore: no address")
	}
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if strings.ContainsAny(cfg.KeyPrefix, "{}") {
		return nil, fmt.Errorf("redisstore: key prefix %q: braces are not allowed (the prefix is the hash tag)", cfg.KeyPrefix)
	}
	if cfg.LockLease <= 0 {
		cfg.LockLease = DefaultLockLease
	}
	opts := &redis.Options{
		Addr:                     cfg.Address,
		Password:                 cfg.Password,
		DB:                       cfg.DB,
		DisableIdentity:          true, // no CLIENT SETINFO (Redis < 7.2 refuses it)
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if cfg.TLS {
		opts.TLSConfig = cfg.TLSConfig
		if opts.TLSConfig == nil {
			host := cfg.Address
			if h, _, err := net.SplitHostPort(cfg.Address); err == nil {
				host = h
			}
			opts.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
	}
	s := &Storage{
		client: redis.NewClient(opts),
		prefix: "{" + cfg.KeyPrefix + "}:",
		lease:  cfg.LockLease,
		log:    cfg.Log,
		held:   map[string]*heldLock{},
	}
	s.index = s.prefix + "index"
	scheme := "redis"
	if cfg.TLS {
		scheme = "rediss"
	}
	s.desc = fmt.Sprintf("%s://%s/%d prefix %q", scheme, cfg.Address, cfg.DB, cfg.KeyPrefix)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.client.Ping(ctx).Err(); err != nil {
		s.client.Close()
		return nil, fmt.Errorf("redisstore: %s: %w", s.desc, err)
	}
	return s, nil
}

// String describes the storage (no password), for certmagic's logs.
func (s *Storage) String() string { return "redisstore " + s.desc }

// Close stops renewing the locks still held, releases them and closes the
// connection pool.
func (s *Storage) Close() error {
	s.mu.Lock()
	names := make([]string, 0, len(s.held))
	for n := range s.held {
		names = append(names, n)
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, n := range names {
		s.Unlock(ctx, n)
	}
	return s.client.Close()
}

// cleanKey turns a certmagic key into the form stored in the index: no
// leading or trailing slash, no empty or "." segments.
func cleanKey(key string) string {
	key = path.Clean("/" + key)
	return strings.TrimPrefix(key, "/")
}

func (s *Storage) valueKey(key string) string { return s.prefix + "v:" + key }

// under returns the ZRANGEBYLEX bounds of every indexed key below dir:
// "[dir/" to "(dir0" ('0' is the byte after '/'); all keys for the root.
func under(dir string) (min, max string) {
	if dir == "" {
		return "-", "+"
	}
	return "[" + dir + "/", "(" + dir + "0"
}

// Store puts value at key, with the time it was stored.
func (s *Storage) Store(ctx context.Context, key string, value []byte) error {
	key = cleanKey(key)
	if key == "" {
		return errors.New("redisstore: store: empty key")
	}
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, s.valueKey(key), "value", value, "modified", time.Now().UnixMilli())
		p.ZAdd(ctx, s.index, redis.Z{Member: key})
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisstore: store %s: %w", key, err)
	}
	return nil
}

// Load returns the value at key; a missing key is an fs.ErrNotExist error.
func (s *Storage) Load(ctx context.Context, key string) ([]byte, error) {
	key = cleanKey(key)
	b, err := s.client.HGet(ctx, s.valueKey(key), "value").Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisstore: load %s: %w", key, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: load %s: %w", key, err)
	}
	return b, nil
}

// deleteScript deletes a value and every value below it, and drops them
// from the index, in one step.
// KEYS[1] index; ARGV[1] value key prefix, ARGV[2] key, ARGV[3..4] range below.
var deleteScript = redis.NewScript(`
local n = redis.call('DEL', ARGV[1] .. ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
local below = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[3], ARGV[4])
for _, k in ipairs(below) do
  n = n + redis.call('DEL', ARGV[1] .. k)
  redis.call('ZREM', KEYS[1], k)
end
return n
`)

// Delete removes key and every key under it. A missing key is not an error.
func (s *Storage) Delete(ctx context.Context, key string) error {
	key = cleanKey(key)
	lo, hi := under(key)
	if err := deleteScript.Run(ctx, s.client, []string{s.index}, s.prefix+"v:", key, lo, hi).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: delete %s: %w", key, err)
	}
	return nil
}

// Exists reports whether key is stored or is a directory of stored keys.
// Errors read as false.
func (s *Storage) Exists(ctx context.Context, key string) bool {
	key = cleanKey(key)
	terminal, dir, err := s.kind(ctx, key)
	return err == nil && (terminal || dir)
}

// kind tells whether key holds a value and whether keys sit below it.
func (s *Storage) kind(ctx context.Context, key string) (terminal, dir bool, err error) {
	lo, hi := under(key)
	var ex *redis.IntCmd
	var first *redis.StringSliceCmd
	_, err = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if key != "" {
			ex = p.Exists(ctx, s.valueKey(key))
		}
		first = p.ZRangeByLex(ctx, s.index, &redis.ZRangeBy{Min: lo, Max: hi, Count: 1})
		return nil
	})
	if err != nil {
		return false, false, err
	}
	return ex != nil && ex.Val() > 0, len(first.Val()) > 0, nil
}

// List returns the keys under dir, as certmagic's FileStorage does: the
// direct children (values and directories) or, recursive, every value and
// directory below. The keys carry dir as their prefix. A dir that does not
// exist is an fs.ErrNotExist error; a key that holds a value lists nothing.
func (s *Storage) List(ctx context.Context, dir string, recursive bool) ([]string, error) {
	dir = cleanKey(dir)
	lo, hi := under(dir)
	members, err := s.client.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.index, Start: lo, Stop: hi, ByLex: true}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list %s: %w", dir, err)
	}
	if len(members) == 0 {
		if dir != "" {
			n, err := s.client.Exists(ctx, s.valueKey(dir)).Result()
			if err != nil {
				return nil, fmt.Errorf("redisstore: list %s: %w", dir, err)
			}
			if n > 0 {
				return nil, nil
			}
		}
		return nil, fmt.Errorf("redisstore: list %s: %w", dir, fs.ErrNotExist)
	}
	base := dir
	if base != "" {
		base += "/"
	}
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, m := range members {
		rest := strings.TrimPrefix(m, base)
		if !recursive {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				rest = rest[:i]
			}
			add(base + rest)
			continue
		}
		// Every directory on the way down, then the key itself.
		for i := 0; i < len(rest); i++ {
			if rest[i] == '/' {
				add(base + rest[:i])
			}
		}
		add(m)
	}
	sort.Strings(out)
	return out, nil
}

// Stat describes key: a value (size, time stored) or a directory.
func (s *Storage) Stat(ctx context.Context, key string) (certmagic.KeyInfo, error) {
	key = cleanKey(key)
	var size *redis.IntCmd
	var mod *redis.StringCmd
	if key != "" {
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			size = p.HStrLen(ctx, s.valueKey(key), "value")
			mod = p.HGet(ctx, s.valueKey(key), "modified")
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %s: %w", key, err)
		}
		if mod.Err() == nil {
			ms, _ := strconv.ParseInt(mod.Val(), 10, 64)
			return certmagic.KeyInfo{
				Key:        key,
				Modified:   time.UnixMilli(ms),
				Size:       size.Val(),
				IsTerminal: true,
			}, nil
		}
	}
	_, dir, err := s.kind(ctx, key)
	if err != nil {
		return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %s: %w", key, err)
	}
	if !dir {
		return certmagic.KeyInfo{}, fmt.Errorf("redisstore: stat %s: %w", key, fs.ErrNotExist)
	}
	return certmagic.KeyInfo{Key: key, IsTerminal: false}, nil
}
