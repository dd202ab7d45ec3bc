package config

import (
	"path/filepath"
	"syscall"
	"testing"
)

// TestLoadConfigSpecialFiles checks that a device or a FIFO given as the
// config file is refused before it is read: /dev/zero would fill memory and
// opening a FIFO would wait for a writer that never comes (before the guard
// this test hung in Load).
func TestLoadConfigSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "config.hcl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"device": "/dev/zero", "fifo": fifo} {
		t.Run(name, func(t *testing.T) {
			checkGuard(t, path, "not a regular file")
		})
	}
}
