package main

import (
	"bytes"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	const rev = "bd5498239c560e75c59883d3fa9eea87847247eb"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name    string
		ldflags string
		info    *debug.BuildInfo
		want    string
	}{
		{"no build info", "dev", nil, "dev"},
		{"go run", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev"},
		{"ldflags win", "1.4.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "1.4.0"},
		{"go install @tag", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "v1.3.0"},
		{"checkout without tags", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")}, "dev (bd5498239c56)"},
		{"dirty checkout", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")}, "dev (bd5498239c56+dirty)"},
		{"pseudo-version names the revision", "dev",
			&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261127163708-bd5498239c56+dirty"}, Settings: vcs("true")},
			"v0.0.0-20261127163708-bd5498239c56+dirty"},
		{"ldflags and a revision", "1.4.0", &debug.BuildInfo{Settings: vcs("false")}, "1.4.0 (bd5498239c56)"},
	}
	for _, tt := range tests {
		if got := versionOf(tt.ldflags, tt.info); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

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
