package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Values of an http block known when the suite loads that cannot be sent
// are refused by validate, on their line, with the field named: a method
// that is no string or no method (method = true was sent as TRUE), a path
// that is a number, a url that is not http(s), headers that are a list or
// hold a name with a space, a query value that is a list.
func TestValidateRefusesRequestValuesThatCannotBeSent(t *testing.T) {
	for _, c := range []struct{ attr, field string }{
		{`method = true`, "http.method"},
		{`method = "G ET"`, "http.method"},
		{`path = 5`, "http.path"},
		{`url = "ftp://files.example/x"`, "http.url"},
		{`headers = ["a"]`, "http.headers"},
		{`headers = { "X Bad" = "v" }`, "http.headers"},
		{`query = { a = ["x", "y"] }`, "http.query"},
		{`form = { a = { b = "c" } }`, "http.form"},
	} {
		dir := t.TempDir()
		src := "target \"t\" { url = \"http://127.0.0.1:1\" }\nfunctional \"f\" {\n  target = target.t\n  step \"s\" {\n    http {\n      " + c.attr + "\n    }\n  }\n}\n"
		if strings.HasPrefix(c.attr, "method") || strings.HasPrefix(c.attr, "headers") || strings.HasPrefix(c.attr, "query") || strings.HasPrefix(c.attr, "form") {
			src = strings.Replace(src, "      "+c.attr, "      path = \"/\"\n      "+c.attr, 1)
		}
		os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644)
		var stdout, stderr bytes.Buffer
		code := run([]string{"validate", "--no-color", dir}, &stdout, &stderr)
		out := stderr.String()
		if code != exitUsage || !strings.Contains(out, "Invalid "+c.field) || !strings.Contains(out, "main.hcl line") {
			t.Errorf("%s: exit %d, want %d with Invalid %s on its line:\n%s%s", c.attr, code, exitUsage, c.field, stdout.String(), out)
		}
	}
	for _, c := range []struct{ expect, field string }{
		{`status = "two hundred"`, "expect.status"},
		{`status = 200.5`, "expect.status"},
		{`status = 99999999999999999999`, "expect.status"},
		{`status = []`, "expect.status"},
		{`body_match = "tok-[0-9"`, "expect.body_match"},
		{`headers_match = { Date = "(" }`, "expect.headers_match"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("target \"t\" { url = \"http://127.0.0.1:1\" }\nfunctional \"f\" {\n  target = target.t\n  step \"s\" {\n    http { path = \"/\" }\n    expect { "+c.expect+" }\n  }\n}\n"), 0o644)
		var stdout, stderr bytes.Buffer
		code := run([]string{"validate", "--no-color", dir}, &stdout, &stderr)
		if out := stderr.String(); code != exitUsage || !strings.Contains(out, "Invalid "+c.field) || !strings.Contains(out, "main.hcl line 6") {
			t.Errorf("%s: exit %d, want %d with Invalid %s on line 6:\n%s", c.expect, code, exitUsage, c.field, out)
		}
	}
	// A value known only when the step runs passes validate, and a good
	// one is not refused.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(`
variable "m" { default = "post" }
target "t" { url = "http://127.0.0.1:1" }
functional "f" {
  target = target.t
  step "s" {
    http {
      method  = var.m
      path    = "/x"
      headers = { X-Ok = "1", Accept = "application/json" }
      query   = { n = 5 }
    }
  }
}
`), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "--no-color", dir}, &stdout, &stderr); code != exitOK {
		t.Errorf("good values: exit %d:\n%s", code, stderr.String())
	}
}

// --parallel takes how many suites run at once: 0 or -5 is refused, not
// taken silently.
func TestParallelMustBePositive(t *testing.T) {
	for _, n := range []string{"0", "-5"} {
		var stdout, stderr bytes.Buffer
		if code := run([]string{"run", "--parallel", n, "--out", t.TempDir(), "../../examples/httpbin"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--parallel "+n) {
			t.Errorf("--parallel %s: exit %d, want %d:\n%s", n, code, exitUsage, stderr.String())
		}
	}
}

// A case whose for_each gives nothing would not run at all: refused on
// its line, with the cause named.
func TestAnEmptyForEachIsRefused(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(`
target "t" { url = "http://127.0.0.1:1" }
functional "f" {
  target = target.t
  case "c" {
    for_each = {}
    step "s" {
      http { path = "/" }
    }
  }
}
`), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "--no-color", dir}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "Empty for_each") || !strings.Contains(stderr.String(), "main.hcl line 6") {
		t.Errorf("exit %d, want %d with Empty for_each on line 6:\n%s", code, exitUsage, stderr.String())
	}
}
