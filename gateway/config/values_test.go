package config

import (
	"os"
	"testing"
)

func TestConfigAddresses(t *testing.T) {
	tests := []struct {
		addr string
		kind addrKind
		ok   bool
	}{
		{"[::]:843", addrBind, true},
		{"[::1]:9000", addrBind, true},
		{"[fe80::1%eth0]:9000", addrBind, true},
		{"0.0.0.0:8843", addrBind, true},
		{":9000", addrBind, true},
		{"localhost:9000", addrBind, true},
		{"127.0.0.1:0", addrBind, true},
		{"127.0.0.1:65535", addrBind, true},
		{"::1:843", addrBind, false},
		{":::843", addrBind, false},
		{"1.2.3.4:99999", addrBind, false},
		{"1.2.3.4:-1", addrBind, false},
		{"1.2.3.4:+80", addrBind, false},
		{"1.2.3.4", addrBind, false},
		{"example.com:80", addrBind, false},
		{"[1.2.3.4]:80", addrBind, false},
		{"1.2.3.256:80", addrBind, false},
		{"", addrBind, false},
		{"chat.internal:5000", addrDial, true},
		{"10.0.0.5:5000", addrDial, true},
		{"[2001:db8::1]:5000", addrDial, true},
		{"my_host:1", addrDial, true},
		{"10.0.0.256:5000", addrDial, false},
		{":5000", addrDial, false},
		{"h:0", addrDial, false},
		{"-bad.example:1", addrDial, false},
		{"a..b:1", addrDial, false},
		{"2001:db8::1:5000", addrDial, false},
		{"chat.internal:http", addrDial, false},
		{"chat.internal:5000", addrBackend, true},
		{"chat.internal:http", addrBackend, true},
		{"[::1]:xmpp-client", addrBackend, true},
		{"chat.internal:0", addrBackend, false},
		{"chat.internal:-http", addrBackend, false},
		{"chat.internal:+80", addrBackend, false},
		{"chat.internal:", addrBackend, false},
		{"chat.internal:ht.tp", addrBackend, false},
		{":http", addrBackend, false},
		{"example.com:http", addrBind, false},
	}
	for _, tt := range tests {
		err := checkAddress(tt.addr, tt.kind)
		if (err == nil) != tt.ok {
			t.Errorf("checkAddress(%q, %d) = %v, want ok=%v", tt.addr, tt.kind, err, tt.ok)
		}
	}
}

func TestConfigSizes(t *testing.T) {
	tests := []struct {
		in   string
		want int64 // -1: error
	}{
		{"0", 0},
		{"1472", 1472},
		{"512B", 512},
		{"64KiB", 64 << 10},
		{"64kib", 64 << 10},
		{"64 KiB", 64 << 10},
		{"10KB", 10000},
		{"1MiB", 1 << 20},
		{"2MB", 2000000},
		{"1GiB", 1 << 30},
		{"3GB", 3000000000},
		{"64KB?", -1},
		{"-1", -1},
		{"-1KiB", -1},
		{"1.5MiB", -1},
		{"KiB", -1},
		{"", -1},
		{"1TiB", -1},
		{"0x10", -1},
		{"99999999999999999999", -1},
		{"9999999999999GiB", -1},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if tt.want < 0 {
			if err == nil {
				t.Errorf("parseSize(%q) = %d, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestConfigPorts(t *testing.T) {
	for _, ok := range []string{"*", "80", "1", "65535", "9000-9010", "9000-9000", "843,9000-9010,9443"} {
		if err := checkPorts(ok); err != nil {
			t.Errorf("checkPorts(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "0", "65536", "9010-9000", "*,80", "80,", ",80", "80-", "-80", "a", "80 ", "1-2-3", "**"} {
		if err := checkPorts(bad); err == nil {
			t.Errorf("checkPorts(%q) = nil, want error", bad)
		}
	}
}

func TestConfigEnvAndFile(t *testing.T) {
	t.Setenv("FLASHGATE_TEST_TOKEN", "tok-123")
	t.Setenv("FLASHGATE_TEST_PORT", "9001")
	os.Unsetenv("FLASHGATE_TEST_UNSET")
	cfg := mustLoad(t, `
admin {
  address = "127.0.0.1:${env("FLASHGATE_TEST_PORT")}"
  token   = env("FLASHGATE_TEST_TOKEN")
}
acme {
  email = env("FLASHGATE_TEST_UNSET")
  ca    = file("ca-url.txt")
}
`, map[string]string{"ca-url.txt": "https://acme.example/dir"})
	if cfg.Admin.Address != "127.0.0.1:9001" || cfg.Admin.Token != "tok-123" {
		t.Errorf("Admin = %+v", cfg.Admin)
	}
	if cfg.ACME.Email != "" || cfg.ACME.CA != "https://acme.example/dir" {
		t.Errorf("ACME = %+v", cfg.ACME)
	}
}
