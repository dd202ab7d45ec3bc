package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKubernetesConfigNoWarnings: the config in examples/kubernetes's
// ConfigMap validates without a warning when the pod has its admin token
// (deployment.yaml sets it from a Secret): its non-loopback admin address
// must not trip the no-token warning.
func TestKubernetesConfigNoWarnings(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "kubernetes", "configmap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "  config.hcl: |\n")
	if !ok {
		t.Fatal("configmap.yaml has no config.hcl")
	}
	var cfg strings.Builder
	for _, line := range strings.Split(block, "\n") {
		if line != "" && !strings.HasPrefix(line, "    ") {
			break // the end of the block scalar
		}
		cfg.WriteString(strings.TrimPrefix(line, "    ") + "\n")
	}
	dep, err := os.ReadFile(filepath.Join("..", "..", "examples", "kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg.String(), `token   = env("FLASHGATE_ADMIN_TOKEN")`) || !strings.Contains(string(dep), "- name: FLASHGATE_ADMIN_TOKEN\n") {
		t.Fatal("the admin token does not come from FLASHGATE_ADMIN_TOKEN, set by the Deployment")
	}
	t.Setenv("FLASHGATE_ADMIN_TOKEN", "from-the-secret")
	path := writeTemp(t, "config.hcl", cfg.String())
	code, out, errs := runCmd("validate", "-config", path)
	if code != 0 || errs != "" || !strings.Contains(out, ": valid (") {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
