package gateway

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/flashgate/flashgate/gateway/config"
	"github.com/flashgate/flashgate/tlsterm/redisstore"
	"github.com/flashgate/flashgate/tlsterm/redisstore/redistest"
)

// acmeRedisConfig is a config with two ACME listeners and an acme block
// with (redis) or without (storage dir) a redis block.
func acmeRedisConfig(t *testing.T, redisAddr, prefix string) *config.Config {
	t.Helper()
	store := `  storage = "acme-data"`
	if redisAddr != "" {
		store = fmt.Sprintf("  redis {\n    address    = %q\n    key_prefix = %q\n  }", redisAddr, prefix)
	}
	src := fmt.Sprintf(`
acme {
  email = "ops@flashgate.example"
  ca    = "https://127.0.0.1:14000/dir"
%s
}

listener "chat" {
  address = "127.0.0.1:0"
  backend = "echo"
  tls {
    acme = ["chat.flashgate.example"]
  }
}

listener "lobby" {
  address = "127.0.0.1:0"
  backend = "echo"
  tls {
    acme = ["lobby.flashgate.example"]
  }
}

backend "echo" {
  builtin = "echo"
}
`, store)
	cfg, err := config.Parse([]byte(src), filepath.Join(t.TempDir(), "flashgate.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestACMERedisStorageWiring: with an acme.redis block, every ACME
// terminator gets the one shared redisstore (not a file path); without it,
// the storage directory stays; an unreachable Redis is an error.
func TestACMERedisStorageWiring(t *testing.T) {
	srv := redistest.Start(t)
	cfg := acmeRedisConfig(t, srv.Addr, "wiring-test")
	var stores []*redisstore.Storage
	for _, lc := range cfg.Listeners {
		tc, err := withACMEStorage(termConfig(cfg, lc.TLS), cfg, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		st, ok := tc.ACME.Storage.(*redisstore.Storage)
		if !ok || tc.ACME.StoragePath != "" {
			t.Fatalf("listener %s: storage %T, path %q; want a redisstore and no path", lc.Name, tc.ACME.Storage, tc.ACME.StoragePath)
		}
		stores = append(stores, st)
	}
	if stores[0] != stores[1] {
		t.Error("the two listeners got different Redis storages; want one shared pool")
	}
	// It is the configured server and prefix.
	ctx := context.Background()
	if err := stores[0].Store(ctx, "probe", []byte("x")); err != nil {
		t.Fatal(err)
	}
	other, err := redisstore.NewStorage(redisstore.Config{Address: srv.Addr, KeyPrefix: "wiring-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if !other.Exists(ctx, "probe") {
		t.Error("the gateway's storage wrote somewhere else than address + key_prefix")
	}

	// A reload with the same block reuses the storage.
	again := acmeRedisConfig(t, srv.Addr, "wiring-test")
	tc, err := withACMEStorage(termConfig(again, again.Listeners[0].TLS), again, zerolog.Nop())
	if err != nil || tc.ACME.Storage != stores[0] {
		t.Errorf("same redis block after reload: %v, %v", tc.ACME.Storage, err)
	}

	// No redis block: the file storage path is untouched.
	files := acmeRedisConfig(t, "", "")
	tc, err = withACMEStorage(termConfig(files, files.Listeners[0].TLS), files, zerolog.Nop())
	if err != nil || tc.ACME.Storage != nil || !strings.HasSuffix(tc.ACME.StoragePath, "acme-data") {
		t.Errorf("file storage: %v %q %v", tc.ACME.Storage, tc.ACME.StoragePath, err)
	}

	// Unreachable Redis: an error naming the address.
	dead := redistest.Start(t)
	dead.Stop()
	bad := acmeRedisConfig(t, dead.Addr, "x")
	if _, err := withACMEStorage(termConfig(bad, bad.Listeners[0].TLS), bad, zerolog.Nop()); err == nil || !strings.Contains(err.Error(), dead.Addr) {
		t.Errorf("dead Redis: %v", err)
	}
}
