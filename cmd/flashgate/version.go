package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...". When it
// is left at "dev", Version reads the module version and VCS stamp instead.
var version = "dev"

// Version describes this build: the -ldflags version if one was set, else the
// module version (a tag, or Go's pseudo-version of a VCS build), else "dev";
// followed by the VCS revision and "+dirty" when the build recorded them and
// the version does not already name that revision.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return versionOf(version, info)
}

// versionOf is Version over an explicit -ldflags value and build info (nil:
// none), so tests can feed it any build.
func versionOf(ldflags string, info *debug.BuildInfo) string {
	v := ldflags
	if v == "" {
		v = "dev"
	}
	if info == nil {
		return v
	}
	if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		v = info.Main.Version
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" || strings.Contains(v, rev) {
		return v
	}
	if dirty {
		rev += "+dirty"
	}
	return v + " (" + rev + ")"
}

// cmdVersion implements "flashgate version".
func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", stderr)
	pos, err := fs.parse(args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) > 0 {
		return fs.unexpected(pos[0])
	}
	fmt.Fprintf(stdout, "flashgate %s %s %s/%s\n", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}
