package evloop

import (
	"go/parser"
	gotoken "go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsStayOutOfTheGateway: the engine knows nothing of the gateway
// or its configuration. Every file of this package (for every platform,
// tests included) imports only the standard library, golang.org/x/sys and
// gateway/wire, and gateway/wire itself imports nothing else from this
// module, so nothing more is reached through it.
func TestImportsStayOutOfTheGateway(t *testing.T) {
	const module = "github.com/flashgate/flashgate/"
	allowed := func(path string, fromWire bool) bool {
		switch {
		case !strings.Contains(strings.SplitN(path, "/", 2)[0], "."):
			return true // the standard library
		case path == "golang.org/x/sys" || strings.HasPrefix(path, "golang.org/x/sys/"):
			return true
		case !fromWire && path == module+"gateway/wire":
			return true
		}
		return !strings.HasPrefix(path, module) && fromWire // wire's outside dependencies are wire's business
	}
	for _, dir := range []string{".", "../wire"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(gotoken.NewFileSet(), name, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, err := strconv.Unquote(imp.Path.Value)
				if err != nil {
					t.Fatal(err)
				}
				if !allowed(path, dir != ".") {
					t.Errorf("%s imports %s: gateway/evloop may use only the standard library, golang.org/x/sys and gateway/wire", name, path)
				}
			}
		}
	}
}
