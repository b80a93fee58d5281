package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/suites"
)

// TestOnlyHelpAndDocsListEveryKind holds the help of --only, the message of
// an unknown --only kind and the language page to the registry of kinds, so
// that a new kind cannot be added without them.
func TestOnlyHelpAndDocsListEveryKind(t *testing.T) {
	names := suites.Names()
	if len(names) < 5 {
		t.Fatalf("registry: %v", names)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--help"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("run --help: exit %d\n%s", code, stderr.String())
	}
	if want := "run only suites of these kinds: " + strings.Join(names, ", ") + " (repeatable)"; !strings.Contains(stderr.String(), want) {
		t.Errorf("run --help does not say %q:\n%s", want, stderr.String())
	}

	stdout.Reset()
	stderr.Reset()
	code := run([]string{"plan", "--only", "chaos", "../../examples/demobank"}, &stdout, &stderr)
	if want := `--only chaos: there is no suite kind "chaos"; the kinds are ` + strings.Join(names, ", ") + "."; code != exitUsage || !strings.Contains(stderr.String(), want) {
		t.Errorf("plan --only chaos: exit %d, want 2 saying %q\n%s", code, want, stderr.String())
	}

	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	if !strings.Contains(text, "("+strings.Join(names, ", ")+")") {
		t.Errorf("docs/language.md does not list the kinds as (%s)", strings.Join(names, ", "))
	}
	for _, n := range names {
		if !strings.Contains(text, "| `"+n+` "name"`+"` |") {
			t.Errorf("docs/language.md has no row for the %s block", n)
		}
	}
}
