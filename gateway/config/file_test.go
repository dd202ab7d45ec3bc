package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.hcl"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

// TestLoadConfigFileGuard checks that the config file must be a regular
// file of at most maxFileSize bytes, the limit file() applies too, and that
// a refusal names the path.
func TestLoadConfigFileGuard(t *testing.T) {
	comments := func(n int) string { // n bytes of valid HCL: one comment line
		return "#" + strings.Repeat("x", n-2) + "\n"
	}
	tests := []struct {
		name string
		make func(t *testing.T, path string) // creates the config at path
		want string                          // "" loads, else a substring of the error after the path
	}{
		{"at the limit", func(t *testing.T, path string) { writeFile(t, path, comments(maxFileSize)) }, ""},
		{"one byte over", func(t *testing.T, path string) { writeFile(t, path, comments(maxFileSize+1)) },
			"larger than 1048576 bytes"},
		{"far over", func(t *testing.T, path string) { writeFile(t, path, comments(2*maxFileSize)) },
			"larger than 1048576 bytes"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.hcl")
			tt.make(t, path)
			checkGuard(t, path, tt.want)
		})
	}
}

// checkGuard loads path and checks the outcome: want "" loads, else the
// error names path and then contains want.
func checkGuard(t *testing.T, path, want string) {
	t.Helper()
	cfg, err := Load(path)
	if want == "" {
		if err != nil || cfg == nil {
			t.Fatalf("Load(%s): %v", path, err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Load(%s) loaded, want %q", path, want)
	}
	if prefix := "config file " + path + ": "; !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q, want %q then %q", err, prefix, want)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
