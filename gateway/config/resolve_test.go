package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestBackendServicePorts checks that backend ports given as service names
// are resolved at load, so every backend address in the Config has a
// numeric port, and that an unknown name is refused at the attribute.
func TestBackendServicePorts(t *testing.T) {
	const (
		listener = "\nlistener \"l\" {\n  address = \"127.0.0.1:0\"\n  backend = \"b\"\n}\n"
		udp      = "\nudp \"u\" {\n  address = \"127.0.0.1:0\"\n  backend = \"b\"\n}\n"
		unused   = "\n# backend \"b\"\n# is used\n# by no block\n\n"
	)
	tests := []struct {
		name    string
		users   string // the blocks that use backend "b": five lines
		address string // the HCL value of backend "b"'s address
		want    []string
		err     string // "" loads, else a substring of the error
	}{
		{"numeric stays", listener, `"127.0.0.1:5000"`, []string{"127.0.0.1:5000"}, ""},
		{"http", listener, `"game.example:http"`, []string{"game.example:80"}, ""},
		{"IPv6 https", listener, `"[::1]:https"`, []string{"[::1]:443"}, ""},
		{"any case", listener, `"127.0.0.1:HTTP"`, []string{"127.0.0.1:80"}, ""},
		{"mixed list", listener, `["a.example:ssh", "b.example:5000"]`, []string{"a.example:22", "b.example:5000"}, ""},
		{"udp backend", udp, `"dns.example:domain"`, []string{"dns.example:53"}, ""},
		{"unused backend as tcp", unused, `"127.0.0.1:http"`, []string{"127.0.0.1:80"}, ""},
		{"unknown service", listener, `"game.example:no-such-service"`, nil,
			`config.hcl:8:13: invalid address "game.example:no-such-service": unknown tcp service "no-such-service"`},
		{"unknown in a list", listener, `["a.example:80", "b.example:nosuchsvc"]`, nil,
			`config.hcl:8:13: invalid address "b.example:nosuchsvc": unknown tcp service "nosuchsvc"`},
		{"unknown udp service", udp, `"dns.example:no-such-service"`, nil,
			`config.hcl:8:13: invalid address "dns.example:no-such-service": unknown udp service "no-such-service"`},
		{"not a service name", listener, `"game.example:-http"`, nil, `config.hcl:8:13: invalid address "game.example:-http"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.users + "\nbackend \"b\" {\n  address = " + tt.address + "\n}\n"
			cfg, err := Load(writeConfig(t, src, nil))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v\nwant it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := cfg.Backend("b").Address; !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("address = %q, want %q", got, tt.want)
			}
		})
	}
}
