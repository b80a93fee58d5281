package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// Each function the language added for Terraform parity, evaluated the way
// a suite evaluates it (through the loader), with the value it must give.
func TestTerraformParityFunctions(t *testing.T) {
	cases := map[string]string{
		`alltrue([true, true])`:                      `true`,
		`alltrue([true, false])`:                     `false`,
		`alltrue([])`:                                `true`,
		`alltrue(["true", true])`:                    `true`,
		`anytrue([false, true])`:                     `true`,
		`anytrue([])`:                                `false`,
		`strcontains("transfer accepted", "accept")`: `true`,
		`strcontains("transfer accepted", "reject")`: `false`,
		`startswith("CN12-0001", "CN")`:              `true`,
		`endswith("CN12-0001", "0002")`:              `false`,
		`setsubtract(["a", "b", "c"], ["b"])`:        `["a","c"]`,
		`setintersection(["a", "b"], ["b", "c"])`:    `["b"]`,
		`sum([1, 2.5, "3"])`:                         `6.5`,
		`one([])`:                                    `null`,
		`one(["only"])`:                              `"only"`,
		`coalesce("", "fallback")`:                   `"fallback"`,
		`timecmp("2026-01-01T00:00:00Z", "2026-01-01T08:00:00+08:00")`: `0`,
		`timecmp("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")`:      `-1`,
		`timecmp("2026-01-03T00:00:00Z", "2026-01-02T00:00:00Z")`:      `1`,
		`lookup_path({a = {b = [{c = 7}]}}, "a.b[0].c", 0)`:            `7`,
		`lookup_path({a = {b = [{c = 7}]}}, "a.b.0.c", 0)`:             `7`,
		`lookup_path({a = {b = [{c = 7}]}}, "a.b[1].c", "none")`:       `"none"`,
		`lookup_path({a = null}, "a.b", "none")`:                       `"none"`,
		`lookup_path({a = {"x y" = 1}}, "a.x y", 0)`:                   `1`,
		`lookup_path([[1, 2], [3]], "[1][0]", 0)`:                      `3`,
		`lookup_path({m = tomap({k = "v"})}, "m.k", "")`:               `"v"`,
		`csvdecode("id,amount\n1,10\n")`:                               `[{"amount":"10","id":"1"}]`,
	}
	var b strings.Builder
	b.WriteString("locals {\n")
	names := map[string]string{}
	i := 0
	for expr := range cases {
		name := "v" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		names[name] = expr
		b.WriteString("  " + name + " = jsonencode(" + expr + ")\n")
		i++
	}
	b.WriteString("}\n")
	cfg := mustLoad(t, write(t, map[string]string{"f.hcl": b.String()}), Options{})
	for name, expr := range names {
		if got := cfg.Locals[name].AsString(); got != cases[expr] {
			t.Errorf("%s = %s, want %s", expr, got, cases[expr])
		}
	}
}

// The functions refuse what has no sensible answer, with a message that
// says why.
func TestTerraformParityFunctionErrors(t *testing.T) {
	cases := map[string]string{
		`sum([])`:         "cannot sum an empty list",
		`one(["a", "b"])`: "at most one element; it has 2",
		`timecmp("yesterday", "2026-01-01T00:00:00Z")`: `"yesterday" is not an RFC 3339 timestamp`,
		`lookup_path({}, "a..b", 0)`:                   "has an empty part",
		`lookup_path({}, "a[x]", 0)`:                   "not an index such as [0]",
		`startswith(1, [])`:                            "string required",
	}
	for expr, want := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f.hcl"), []byte("locals {\n  x = "+expr+"\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, diags := Load(dir, Options{})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
			t.Errorf("%s: got %v, want an error containing %q", expr, diags, want)
		}
	}
}

// A sensitive value read through lookup_path stays sensitive.
func TestLookupPathKeepsSensitivity(t *testing.T) {
	v, err := lookupPathFunc.Call([]cty.Value{
		cty.ObjectVal(map[string]cty.Value{"token": cty.StringVal("s").Mark("sensitive")}),
		cty.StringVal("token"), cty.StringVal(""),
	})
	if err != nil || !v.IsMarked() {
		t.Fatalf("lookup_path gave %#v (%v), want a marked value", v, err)
	}
}

// Every function the language accepts is named in docs/language.md.
func TestEveryFunctionIsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range functions(".") {
		if !strings.Contains(string(doc), "`"+name+"(") {
			t.Errorf("function %s is not documented in docs/language.md (as `%s(…)`)", name, name)
		}
	}
}
