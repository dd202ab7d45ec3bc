// Package config turns a flashgate HCL config file into validated plain
// structs. It fills in every default, resolves relative paths from the
// config file's directory, checks references between blocks, and refuses
// what Flash clients would silently reject (the Flash rules in flash.go).
// It reads and parses every file the config names (policy files,
// certificates and their keys, CA files: files.go), so that a file `run`
// would fail on is reported at the attribute that named it; a file that is
// not what it should be is described, never quoted.
// Problems are reported together, each as "FILE:LINE:COL: message" with the
// offending source line. The package opens no socket and knows nothing of
// how the gateway serves what it describes.
//
// Typical use:
//
//	cfg, err := config.Load("config.hcl")
//	if err != nil {
//		fmt.Fprintln(os.Stderr, err) // every problem, one per diagnostic
//		os.Exit(1)
//	}
//	for _, w := range cfg.Warnings {
//		fmt.Fprintln(os.Stderr, w)
//	}
//	for _, l := range cfg.Listeners {
//		b := cfg.Backend(l.Backend) // nil for a policy-only listener
//		_ = b
//	}
//
// Parse does the same for source already in memory (tests, fuzzing).
package config
