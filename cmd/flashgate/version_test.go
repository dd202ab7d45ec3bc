package main

import (
	"bytes"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// The version logic (tags, revisions, +dirty) is tested in gateway/admin
// (TestBuildOf); here the binary built as an operator would.

// TestVersionBinary builds the binary as an operator would and checks that
// "version" carries the Go version and, when the build recorded a VCS
// revision (a git clone; Go does not stamp from a git worktree), that
// revision.
func TestVersionBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildFlashgate(t, "-buildvcs=auto")
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "flashgate ") || !strings.Contains(string(out), runtime.Version()) {
		t.Fatalf("version = %q, want flashgate … %s", out, runtime.Version())
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	for _, line := range strings.Split(string(meta), "\n") {
		if rev, ok := strings.CutPrefix(strings.TrimSpace(line), "build\tvcs.revision="); ok {
			if !strings.Contains(string(out), rev[:12]) {
				t.Fatalf("version = %q, want revision %s", out, rev[:12])
			}
			return
		}
	}
	t.Logf("built without VCS information: %s", bytes.TrimSpace(out))
}
