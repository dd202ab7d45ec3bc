package config

import (
	"os"
	"strings"
	"testing"
)

// TestAdminToken: a token that comes out empty (env() of an unset or empty
// variable, or "") is an error naming the variable, not an open admin.
func TestAdminToken(t *testing.T) {
	t.Setenv("FLASHGATE_TEST_TOK", "s3cret")
	t.Setenv("FLASHGATE_TEST_EMPTY", "")
	os.Unsetenv("FLASHGATE_TEST_UNSET_TOK")
	const rest = `
listener "l" {
  address = "127.0.0.1:0"
  backend = "b"
}
backend "b" {
  builtin = "echo"
}
`
	tests := []struct {
		token     string // the attribute; "" leaves it out
		wantToken string
		wantErr   string
	}{
		{``, "", ""},
		{`null`, "", ""},
		{`env("FLASHGATE_TEST_TOK")`, "s3cret", ""},
		{`"literal"`, "literal", ""},
		{`env("FLASHGATE_TEST_UNSET_TOK")`, "", `config.hcl:3:11: empty admin token: environment variable "FLASHGATE_TEST_UNSET_TOK" is unset or empty`},
		{`env("FLASHGATE_TEST_EMPTY")`, "", `environment variable "FLASHGATE_TEST_EMPTY" is unset or empty`},
		{`"${env("FLASHGATE_TEST_UNSET_TOK")}"`, "", `environment variable "FLASHGATE_TEST_UNSET_TOK" is unset or empty`},
		{`""`, "", `config.hcl:3:11: empty admin token`},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			src := "\nadmin {\n"
			if tt.token != "" {
				src += "  token = " + tt.token + "\n"
			}
			src += "}\n" + rest
			cfg, err := Load(writeConfig(t, src, nil))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load: error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Admin.Token != tt.wantToken {
				t.Errorf("Token = %q, want %q", cfg.Admin.Token, tt.wantToken)
			}
		})
	}
}

func TestAdminPprof(t *testing.T) {
	tests := []struct {
		attr    string
		want    bool
		wantErr string
	}{
		{"", false, ""},
		{"pprof = false", false, ""},
		{"pprof = true", true, ""},
		{"pprof = null", false, ""},
		{`pprof = "yes"`, false, "invalid pprof: true or false required"},
	}
	for _, tt := range tests {
		t.Run(tt.attr, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, "admin {\n  "+tt.attr+"\n}\nlistener \"l\" {\n  address = \"127.0.0.1:0\"\n  backend = \"b\"\n}\nbackend \"b\" {\n  builtin = \"echo\"\n}\n", nil))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load: error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Admin.Pprof != tt.want {
				t.Errorf("Pprof = %v, want %v", cfg.Admin.Pprof, tt.want)
			}
		})
	}
}

// TestRequiredMessageOnce: a value of the wrong type says what is required
// once ("a number required", not "a number required: a number is required").
func TestRequiredMessageOnce(t *testing.T) {
	src := `
listener "l" {
  address         = "127.0.0.1:0"
  backend         = "b"
  max_connections = "abc"
  reuse_port      = "maybe"
  policy          = ["x"]
}
backend "b" {
  builtin = "echo"
}
`
	_, err := Load(writeConfig(t, src, nil))
	if err == nil {
		t.Fatal("Load succeeded")
	}
	msg := err.Error()
	for _, want := range []string{
		"config.hcl:5:21: invalid max_connections: a number required\n",
		"config.hcl:6:21: invalid reuse_port: true or false required\n",
		"config.hcl:7:21: invalid policy: a string required\n",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "is required") {
		t.Errorf("the requirement is said twice:\n%s", msg)
	}
}
