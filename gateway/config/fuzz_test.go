package config

import (
	"path/filepath"
	"testing"
)

// FuzzParseConfig checks that no input makes the loader panic, and that
// every rejection formats.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(fullConfig))
	f.Add([]byte(""))
	f.Add([]byte("listener \"l\" {\n  address = \"[::]:843\"\n  policy = \"p\"\n}\n"))
	f.Add([]byte("backend \"b\" { address = [\"h:1\", 2, null] }\n"))
	f.Add([]byte("listener \"l\" {\n  max_message = \"1GiB\"\n  idle_timeout = 1e400\n  max_connections = 1/0\n}\n"))
	f.Add([]byte("admin {\n  token = file(env(\"HOME\"))\n}\n"))
	f.Add([]byte("policy \"p\" {\n  allow {\n    ports = \"1-2-3,*\"\n    secure = null\n  }\n}\n"))
	f.Add([]byte("udp \"u\" {\n  address = \"${\"a\"}\"\n  max_datagram = [1]\n}\n\xff\x00"))
	// file() reads relative to an empty directory of the fuzzer's own.
	filename := filepath.Join(f.TempDir(), "fuzz.hcl")
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := Parse(src, filename)
		if err != nil {
			if cfg != nil {
				t.Fatalf("config and error both returned: %v", err)
			}
			_ = err.Error()
			return
		}
		if cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}
