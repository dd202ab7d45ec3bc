package admin

import (
	"runtime/debug"
	"testing"
)

func TestBuildOf(t *testing.T) {
	const rev = "bd5498239c560e75c59883d3fa9eea87847247eb"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name     string
		ldflags  string
		info     *debug.BuildInfo
		want     string
		version  string
		revision string
	}{
		{"no build info", "dev", nil, "dev", "dev", ""},
		{"go run", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev", "dev", ""},
		{"ldflags win", "1.4.0", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "1.4.0", "1.4.0", ""},
		{"go install @tag", "dev", &debug.BuildInfo{Main: debug.Module{Version: "v1.3.0"}}, "v1.3.0", "v1.3.0", ""},
		{"checkout without tags", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")},
			"dev (bd5498239c56)", "dev", "bd5498239c56"},
		{"dirty checkout", "dev", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			"dev (bd5498239c56+dirty)", "dev", "bd5498239c56+dirty"},
		{"pseudo-version names the revision", "dev",
			&debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261127163708-bd5498239c56+dirty"}, Settings: vcs("true")},
			"v0.0.0-20261127163708-bd5498239c56+dirty", "v0.0.0-20261127163708-bd5498239c56+dirty", "bd5498239c56+dirty"},
		{"ldflags and a revision", "1.4.0", &debug.BuildInfo{Settings: vcs("false")}, "1.4.0 (bd5498239c56)", "1.4.0", "bd5498239c56"},
		{"empty ldflags", "", nil, "dev", "dev", ""},
	}
	for _, tt := range tests {
		b := buildOf(tt.ldflags, tt.info)
		if got := b.String(); got != tt.want || b.Version != tt.version || b.Revision != tt.revision || b.GoVersion == "" {
			t.Errorf("%s: %q %+v, want %q (version %q, revision %q)", tt.name, got, b, tt.want, tt.version, tt.revision)
		}
	}
	if b := buildOf("dev", &debug.BuildInfo{GoVersion: "go1.99"}); b.GoVersion != "go1.99" {
		t.Errorf("GoVersion %q, want the build's", b.GoVersion)
	}
	if BuildVersion() != ReadBuild().String() || ReadBuild().Version == "" {
		t.Errorf("BuildVersion %q, ReadBuild %+v", BuildVersion(), ReadBuild())
	}
}
