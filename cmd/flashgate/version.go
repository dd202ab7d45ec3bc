package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/flashgate/flashgate/gateway/admin"
)

// Version describes this build (admin.BuildVersion): the version set with
// -ldflags "-X github.com/flashgate/flashgate/gateway/admin.version=...", else
// the module version (a tag, or Go's pseudo-version of a VCS build), else
// "dev"; followed by the VCS revision and "+dirty" when the build recorded
// them and the version does not already name that revision.
func Version() string { return admin.BuildVersion() }

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
