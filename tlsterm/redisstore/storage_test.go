package redisstore

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/flashgate/flashgate/tlsterm/redisstore/redistest"
)

// newStorage starts (or reuses) a redis-server and returns a storage on it,
// closed at the end of the test.
func newStorage(t *testing.T, srv *redistest.Server, prefix string, lease time.Duration) *Storage {
	t.Helper()
	s, err := NewStorage(Config{Address: srv.Addr, KeyPrefix: prefix, LockLease: lease})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tree is a small certmagic-like layout, stored alike in Redis and in a
// FileStorage to compare List, Stat and Exists with the reference.
var tree = []string{
	"acme/ca/users/ops@example.com/ops.json",
	"acme/ca/users/ops@example.com/ops.key",
	"certificates/ca/chat.example/chat.example.crt",
	"certificates/ca/chat.example/chat.example.json",
	"certificates/ca/chat.example/chat.example.key",
	"certificates/ca/chat.example.org/chat.example.org.crt",
	"certificates/ca/lobby.example/lobby.example.crt",
	"ocsp/chat.example-abc",
	"last_clean.json",
}

func storeTree(t *testing.T, ctx context.Context, s certmagic.Storage) {
	t.Helper()
	for _, k := range tree {
		if err := s.Store(ctx, k, []byte("value of "+k)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStoreLoad(t *testing.T) {
	ctx := context.Background()
	s := newStorage(t, redistest.Start(t), "t", 0)
	if err := s.Store(ctx, "a/b", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, "a/b"); err != nil || string(got) != "one" {
		t.Fatalf("Load = %q, %v", got, err)
	}
	if err := s.Store(ctx, "/a/b/", []byte("two")); err != nil { // same key, other spelling
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, "a/b"); err != nil || string(got) != "two" {
		t.Fatalf("Load after overwrite = %q, %v", got, err)
	}
	if err := s.Store(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, "empty"); err != nil || len(got) != 0 {
		t.Fatalf("Load(empty) = %q, %v", got, err)
	}
	bin := []byte{0, 1, 2, 0xff, '\r', '\n'}
	if err := s.Store(ctx, "bin", bin); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Load(ctx, "bin"); !slices.Equal(got, bin) {
		t.Fatalf("binary value came back as %v", got)
	}
	for _, k := range []string{"missing", "a", "a/b/c"} {
		_, err := s.Load(ctx, k)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q) error %v, want fs.ErrNotExist", k, err)
		}
	}
}

func TestExistsStat(t *testing.T) {
	ctx := context.Background()
	s := newStorage(t, redistest.Start(t), "t", 0)
	before := time.Now().Add(-time.Second)
	storeTree(t, ctx, s)
	after := time.Now().Add(time.Second)

	for _, k := range []string{"acme", "certificates/ca", "certificates/ca/chat.example", "ocsp/chat.example-abc", "last_clean.json"} {
		if !s.Exists(ctx, k) {
			t.Errorf("Exists(%q) = false", k)
		}
	}
	for _, k := range []string{"cert", "certificates/ca/chat", "ocsp/chat.example-abc/x", "nothing"} {
		if s.Exists(ctx, k) {
			t.Errorf("Exists(%q) = true", k)
		}
	}

	k := "certificates/ca/chat.example/chat.example.crt"
	info, err := s.Stat(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsTerminal || info.Key != k || info.Size != int64(len("value of "+k)) ||
		info.Modified.Before(before) || info.Modified.After(after) {
		t.Errorf("Stat(%q) = %+v", k, info)
	}
	info, err = s.Stat(ctx, "certificates/ca")
	if err != nil || info.IsTerminal || info.Key != "certificates/ca" {
		t.Errorf("Stat(dir) = %+v, %v", info, err)
	}
	if _, err := s.Stat(ctx, "certificates/c"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing) error %v, want fs.ErrNotExist", err)
	}
}

// TestListLikeFileStorage lists the same tree from Redis and from
// certmagic's FileStorage: the same keys, recursive or not, and the same
// fs.ErrNotExist for a missing path.
func TestListLikeFileStorage(t *testing.T) {
	ctx := context.Background()
	s := newStorage(t, redistest.Start(t), "t", 0)
	ref := &certmagic.FileStorage{Path: t.TempDir()}
	storeTree(t, ctx, s)
	storeTree(t, ctx, ref)

	for _, p := range []string{"", "acme", "certificates", "certificates/ca", "certificates/ca/chat.example", "ocsp", "last_clean.json", "certificates/ca/chat", "missing"} {
		for _, rec := range []bool{false, true} {
			want, werr := ref.List(ctx, p, rec)
			got, gerr := s.List(ctx, p, rec)
			if p == "" {
				// FileStorage lists the root only through its own
				// path; certmagic never lists "". Ours lists all.
				werr = nil
				want = rootList(rec)
			}
			slices.Sort(want)
			if (werr != nil) != (gerr != nil) || (werr != nil && errors.Is(werr, fs.ErrNotExist) != errors.Is(gerr, fs.ErrNotExist)) {
				t.Errorf("List(%q, %v) error %v, FileStorage %v", p, rec, gerr, werr)
				continue
			}
			if !slices.Equal(got, want) {
				t.Errorf("List(%q, %v) =\n  %q\nFileStorage:\n  %q", p, rec, got, want)
			}
		}
	}
}

// rootList is what List("") should give for tree.
func rootList(recursive bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, k := range tree {
		parts := strings.Split(k, "/")
		n := 1
		if recursive {
			n = len(parts)
		}
		for i := 1; i <= n; i++ {
			p := strings.Join(parts[:i], "/")
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s := newStorage(t, redistest.Start(t), "t", 0)
	storeTree(t, ctx, s)

	// A prefix stops at a path boundary: deleting chat.example keeps
	// chat.example.org.
	if err := s.Delete(ctx, "certificates/ca/chat.example"); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx, "certificates", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"certificates/ca",
		"certificates/ca/chat.example.org",
		"certificates/ca/chat.example.org/chat.example.org.crt",
		"certificates/ca/lobby.example",
		"certificates/ca/lobby.example/lobby.example.crt",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after Delete: %q", got)
	}
	if s.Exists(ctx, "certificates/ca/chat.example") {
		t.Error("deleted directory still exists")
	}
	// One key.
	if err := s.Delete(ctx, "ocsp/chat.example-abc"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, "ocsp/chat.example-abc"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load after Delete: %v", err)
	}
	if _, err := s.List(ctx, "ocsp", false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List of emptied dir: %v, want fs.ErrNotExist", err)
	}
	// Missing: not an error.
	if err := s.Delete(ctx, "no/such/key"); err != nil {
		t.Errorf("Delete(missing) = %v", err)
	}
	// Everything under acme, then check no value hash is left behind.
	if err := s.Delete(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	keys, err := s.client.Keys(ctx, "{t}:v:acme*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("values left after Delete(acme): %q %v", keys, err)
	}
}

func TestPrefixesAreSeparate(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a := newStorage(t, srv, "one", 0)
	b := newStorage(t, srv, "two", 0)
	if err := a.Store(ctx, "k", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if b.Exists(ctx, "k") {
		t.Error("prefix two sees prefix one's key")
	}
	if _, err := b.List(ctx, "", true); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("List on empty prefix: %v", err)
	}
	// The same prefix is the same store: how instances share certificates.
	c := newStorage(t, srv, "one", 0)
	if got, err := c.Load(ctx, "k"); err != nil || string(got) != "a" {
		t.Errorf("second storage on the same prefix: %q, %v", got, err)
	}
}

func TestNewStorageErrors(t *testing.T) {
	if _, err := NewStorage(Config{}); err == nil {
		t.Error("no address accepted")
	}
	if _, err := NewStorage(Config{Address: "127.0.0.1:1", KeyPrefix: "a{b}"}); err == nil || !strings.Contains(err.Error(), "braces") {
		t.Errorf("prefix with braces: %v", err)
	}
	srv := redistest.Start(t)
	srv.Stop()
	_, err := NewStorage(Config{Address: srv.Addr})
	if err == nil || !strings.Contains(err.Error(), srv.Addr) {
		t.Errorf("dead server: %v", err)
	}
}
