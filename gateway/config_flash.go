package gateway

import "github.com/hashicorp/hcl/v2"

// loadPolicyFile parses and lints pc.File into pc.Policy. Lint errors are
// returned as error diagnostics, warnings as warning diagnostics.
func loadPolicyFile(pc *PolicyConfig) hcl.Diagnostics {
	return nil
}

// validateFlashRules refuses configurations that Flash clients would silently
// reject (DESIGN.md, "Validation refuses"). It runs after references resolve.
func validateFlashRules(cfg *Config) hcl.Diagnostics {
	return nil
}
