package admin

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at build time with
// -ldflags "-X github.com/flashgate/flashgate/gateway/admin.version=1.4.0".
// Left at "dev", the module version and VCS stamp are read instead. It is
// written by the linker only, never at run time.
var version = "dev"

// Build describes the running binary: what `flashgate version`, /status,
// the status page and flashgate_build_info report.
type Build struct {
	Version   string // the -ldflags version, else the module version, else "dev"
	Revision  string // the VCS revision's first 12 hex digits, "+dirty" when modified; "" if not recorded
	GoVersion string // the Go toolchain, e.g. "go1.26.1"
}

// ReadBuild reads this binary's Build from its build information.
func ReadBuild() Build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return buildOf(version, info)
}

// BuildVersion is this binary's version as one string: the version,
// followed by the revision in parentheses unless the version already names
// it (a pseudo-version does), e.g. "dev (bd5498239c56+dirty)".
func BuildVersion() string { return ReadBuild().String() }

// String is the version with the revision, as BuildVersion describes.
func (b Build) String() string {
	rev := strings.TrimSuffix(b.Revision, "+dirty")
	if rev == "" || strings.Contains(b.Version, rev) {
		return b.Version
	}
	return b.Version + " (" + b.Revision + ")"
}

// buildOf is ReadBuild over an explicit -ldflags value and build info
// (nil: none), so tests can feed it any build.
func buildOf(ldflags string, info *debug.BuildInfo) Build {
	b := Build{Version: ldflags, GoVersion: runtime.Version()}
	if b.Version == "" {
		b.Version = "dev"
	}
	if info == nil {
		return b
	}
	if info.GoVersion != "" {
		b.GoVersion = info.GoVersion
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(b.Revision) > 12 {
		b.Revision = b.Revision[:12]
	}
	if b.Revision != "" && dirty {
		b.Revision += "+dirty"
	}
	return b
}
