package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// plainKind accepts "suite" blocks with one late expression, so that the
// loader can be tested without any real suite kind.
type plainSuite struct {
	SuiteCommon
	Value hcl.Expression
}

var plainKind = SuiteKind{Type: "suite", Decode: func(c *SuiteCommon, body hcl.Body, dc *DecodeContext) (Suite, hcl.Diagnostics) {
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "value"}}})
	s := &plainSuite{SuiteCommon: *c}
	if a, ok := content.Attributes["value"]; ok {
		var d hcl.Diagnostics
		s.Value, d = dc.Late(a.Expr, "response", "capture")
		diags = append(diags, d...)
	}
	return s, diags
}}

func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, dir string, opts Options) *Config {
	t.Helper()
	opts.Kinds = append(opts.Kinds, plainKind)
	cfg, _, diags := Load(dir, opts)
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %s", diags.Error())
	}
	return cfg
}

func TestVariablesTakeTheLastSourceInPrecedenceOrder(t *testing.T) {
	dir := write(t, map[string]string{
		"vars.hcl": `
variable "a" { default = "from default" }
variable "b" { default = "from default" }
variable "c" { default = "from default" }
variable "d" { default = "from default" }
variable "n" {
  type    = number
  default = 1
}
`,
		"extra.vars": "c = \"from file\"\nd = \"from file\"\n",
	})
	cfg := mustLoad(t, dir, Options{
		Environ:  []string{"CLOUDTEST_VAR_b=from env", "CLOUDTEST_VAR_c=from env", "CLOUDTEST_VAR_d=from env", "CLOUDTEST_VAR_n=42"},
		VarFiles: []string{filepath.Join(dir, "extra.vars")},
		Vars:     []string{"d=from flag"},
	})
	want := map[string]string{"a": "from default", "b": "from env", "c": "from file", "d": "from flag"}
	for name, w := range want {
		if got := cfg.Variables[name].Value.AsString(); got != w {
			t.Errorf("var.%s = %q, want %q", name, got, w)
		}
	}
	if n := cfg.Variables["n"].Value; !n.RawEquals(cty.NumberIntVal(42)) {
		t.Errorf("var.n = %#v, want the number 42 parsed from the environment", n)
	}
}

func TestLocalsAreEvaluatedInTheOrderOfTheirReferences(t *testing.T) {
	dir := write(t, map[string]string{"l.hcl": `
variable "host" { default = "127.0.0.1" }
locals {
  url   = "${local.base}/api"
  base  = "http://${var.host}:${local.port}"
  port  = 8080
  token = base64encode("alice:wonderland")
  body  = jsonencode({ user = "alice" })
  upper = upper(env("CLOUDTEST_TEST_LOCALS", "fallback"))
}
`})
	cfg := mustLoad(t, dir, Options{})
	checks := map[string]string{
		"url":   "http://127.0.0.1:8080/api",
		"token": "YWxpY2U6d29uZGVybGFuZA==",
		"body":  `{"user":"alice"}`,
		"upper": "FALLBACK",
	}
	for name, w := range checks {
		if got := cfg.Locals[name].AsString(); got != w {
			t.Errorf("local.%s = %q, want %q", name, got, w)
		}
	}
}

func TestFileAndUUIDFunctions(t *testing.T) {
	dir := write(t, map[string]string{
		"payload.json": `{"amount": 10}`,
		"f.hcl": `locals {
  payload = file("payload.json")
  id      = uuid()
  now     = timestamp()
}`,
	})
	cfg := mustLoad(t, dir, Options{})
	if got := cfg.Locals["payload"].AsString(); got != `{"amount": 10}` {
		t.Errorf("file() read %q", got)
	}
	if id := cfg.Locals["id"].AsString(); len(id) != 36 || strings.Count(id, "-") != 4 {
		t.Errorf("uuid() = %q", id)
	}
	if now := cfg.Locals["now"].AsString(); !strings.HasSuffix(now, "Z") {
		t.Errorf("timestamp() = %q, want RFC 3339 in UTC", now)
	}
}

func TestLateExpressionsKeepRunTimeReferences(t *testing.T) {
	dir := write(t, map[string]string{"s.hcl": `
variable "expected" { default = 200 }
suite "x" { value = response.status == var.expected }
`})
	cfg := mustLoad(t, dir, Options{})
	s := cfg.Suites[0].(*plainSuite)
	ctx := cfg.EvalContext(map[string]cty.Value{"response": cty.ObjectVal(map[string]cty.Value{"status": cty.NumberIntVal(200)})})
	v, diags := s.Value.Value(ctx)
	if diags.HasErrors() || !v.True() {
		t.Fatalf("response.status == var.expected = %#v (%s), want true", v, diags.Error())
	}
}

func TestSensitiveValuesAreListedForRedaction(t *testing.T) {
	dir := write(t, map[string]string{"s.hcl": `
variable "password" {
  default   = "wonderland"
  sensitive = true
}
variable "user" { default = "alice" }
`})
	cfg := mustLoad(t, dir, Options{})
	got := cfg.SensitiveValues()
	if len(got) != 1 || got[0] != "wonderland" {
		t.Fatalf("SensitiveValues() = %q, want [wonderland]", got)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"250ms", "250ms", true},
		{"1h30m", "1h30m0s", true},
		{"2d", "48h0m0s", true},
		{"3 minutes", "", false},
		{"-5s", "", false},
		{"d", "", false},
		// A day count whose nanoseconds do not fit in an int64 wrapped
		// around: "213504d" was read as 25 minutes.
		{"213504d", "", false},
		{"106751d", "2562024h0m0s", true},
		{"106752d", "", false},
		{"99999999999999999999d", "", false},
		{"2562048h", "", false},
		{"9223372036854775808ns", "", false},
		{"-1d", "", false},
		{"-1ms", "", false},
		{"+2d", "48h0m0s", true},
		{"1.5d", "", false},
	}
	for _, tt := range tests {
		d, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || (tt.ok && d.String() != tt.want) {
			t.Errorf("ParseDuration(%q) = %v, %v; want %s ok=%v", tt.in, d, err, tt.want, tt.ok)
		}
	}
	for in, want := range map[string]error{"213504d": ErrDurationTooLong, "2562048h": ErrDurationTooLong, "-3s": ErrNegativeDuration, "-2d": ErrNegativeDuration} {
		if _, err := ParseDuration(in); !errors.Is(err, want) {
			t.Errorf("ParseDuration(%q) error %v, want %v", in, err, want)
		}
	}
}

func TestDeploymentComponentsTakeTheirModes(t *testing.T) {
	dir := write(t, map[string]string{"d.hcl": `
deployment {
  mode = "hybrid"
  component "core-ledger" {
    mode   = "private"
    layers = ["iaas", "paas"]
    tier   = "critical"
  }
  component "mobile" {
    mode   = "community"
    layers = ["saas"]
    vendor = "acme-cloud"
  }
  approver "Li Wei" { role = "QA lead" }
}
`})
	cfg := mustLoad(t, dir, Options{})
	d := cfg.Deployment
	if d.Mode != "hybrid" || len(d.Components) != 2 || d.Component("mobile").Tier != "general" || d.Component("core-ledger").Mode != "private" {
		t.Fatalf("deployment decoded as %+v", d)
	}
	if len(d.Approvers) != 1 || d.Approvers[0].Role != "QA lead" {
		t.Fatalf("approvers = %+v", d.Approvers)
	}
}

// In a sensitive collection, values under 4 characters and booleans are
// not secrets of their own ({ retries = 1 } would hide every "1" in every
// output); the others are.
func TestASensitiveCollectionsShortValuesAreNotSecrets(t *testing.T) {
	dir := write(t, map[string]string{"s.hcl": `
variable "cfg" {
  sensitive = true
  default   = { key = "k3y-4f9a", retries = 1, on = true, pin = "1234" }
}
`})
	cfg := mustLoad(t, dir, Options{})
	got := cfg.SensitiveValues()
	slices.Sort(got)
	if !slices.Equal(got, []string{"1234", "k3y-4f9a"}) {
		t.Fatalf("SensitiveValues() = %q, want [1234 k3y-4f9a]", got)
	}
}
