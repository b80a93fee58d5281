package config

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// loadWithin loads dir and fails the test if that takes longer than limit
// (a FIFO or a device would otherwise hang the test binary).
func loadWithin(t *testing.T, limit time.Duration, dir string, opts Options) hcl.Diagnostics {
	t.Helper()
	opts.Kinds = append(opts.Kinds, plainKind)
	done := make(chan hcl.Diagnostics, 1)
	go func() {
		_, _, diags := Load(dir, opts)
		done <- diags
	}()
	select {
	case d := <-done:
		return d
	case <-time.After(limit):
		t.Fatalf("loading %s took longer than %s", dir, limit)
		return nil
	}
}

func hasDiag(diags hcl.Diagnostics, summary, detail string) *hcl.Diagnostic {
	for _, d := range diags {
		if d.Summary == summary && strings.Contains(d.Detail, detail) {
			return d
		}
	}
	return nil
}

func TestADeeplyNestedFileIsRefusedOnItsLineInsteadOfCrashingTheParser(t *testing.T) {
	// 61,000 nested "[" overflowed the parser's stack: "fatal error: stack overflow".
	dir := write(t, map[string]string{"deep.hcl": "project = \"p\"\n\nlocals {\n  x = " + strings.Repeat("[", 61000) + "\n}\n"})
	diags := loadWithin(t, 10*time.Second, dir, Options{})
	d := hasDiag(diags, "Nesting too deep", "more than 128 deep")
	if d == nil {
		t.Fatalf("want a nesting diagnostic, got %v", diags)
	}
	if d.Subject == nil || filepath.Base(d.Subject.Filename) != "deep.hcl" || d.Subject.Start.Line != 4 || d.Subject.Start.Column != 7+127 {
		// locals { is the first level, so the 128th [ is one too many.
		t.Fatalf("the diagnostic must point at deep.hcl line 4 column %d, got %+v", 7+127, d.Subject)
	}
}

func TestBracketsInStringsHeredocsAndCommentsDoNotCountAsNesting(t *testing.T) {
	deep := strings.Repeat("[", 300)
	dir := write(t, map[string]string{"ok.hcl": `
# ` + deep + `
// ` + deep + `
/* ` + deep + ` */
locals {
  a = "` + deep + `"
  b = <<EOT
  ` + deep + ` ${"{{{"} $${
EOT
  c = <<-EOT
    ` + strings.Repeat("(", 300) + `
    EOT
  d = "${"${"${1}"}"}"
  e = [[[[{ x = ("\"[[[") }]]]]
}
`})
	diags := loadWithin(t, 10*time.Second, dir, Options{})
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %s", diags.Error())
	}
}

func TestNestedInterpolationsCountAsNesting(t *testing.T) {
	dir := write(t, map[string]string{"t.hcl": "locals {\n  x = \"" + strings.Repeat("${\"", 200) + "\"\n}\n"})
	if d := hasDiag(loadWithin(t, 10*time.Second, dir, Options{}), "Nesting too deep", ""); d == nil || d.Subject.Start.Line != 2 {
		t.Fatalf("want a nesting diagnostic on line 2, got %v", d)
	}
}

// junk is random bracket text kept below the nesting limit, the kind of file
// whose diagnostics took 92 s to print at 64 KB (each one scans the whole
// file).
func junk(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	const chars = "[]{}()\"x=, \n"
	var b strings.Builder
	depth, quoted := 0, false
	for b.Len() < n {
		c := chars[r.IntN(len(chars))]
		switch {
		case c == '"' || c == '\n':
			quoted = c == '"' && !quoted
		case quoted:
		case c == '[' || c == '{' || c == '(':
			if depth >= 40 {
				continue
			}
			depth++
		case c == ']' || c == '}' || c == ')':
			depth = max(0, depth-1)
		}
		b.WriteByte(c)
	}
	return b.String()
}

func TestAFileOfJunkGivesAFewErrorsQuickly(t *testing.T) {
	dir := write(t, map[string]string{"junk.hcl": junk(64 << 10)})
	opts := Options{Kinds: []SuiteKind{plainKind}}
	_, parser, diags := Load(dir, opts)
	if !diags.HasErrors() {
		t.Fatal("junk must not load")
	}
	if len(diags) > maxFileDiags+1 {
		t.Fatalf("got %d diagnostics for one file; want at most %d", len(diags), maxFileDiags+1)
	}
	if last := diags[len(diags)-1]; last.Summary != "Too many errors" || !strings.Contains(last.Detail, "junk.hcl has") {
		t.Fatalf("the last diagnostic must say how many were left out, got %v", last)
	}
	// Printing them (the writer scans the file once for each) works.
	hcl.NewDiagnosticTextWriter(io.Discard, parser.Files(), 100, false).WriteDiagnostics(diags)
}

func TestALargeFileOfJunkKeepsFewerErrors(t *testing.T) {
	dir := write(t, map[string]string{"junk.hcl": junk(MaxSourceBytes - 1)})
	_, _, diags := Load(dir, Options{Kinds: []SuiteKind{plainKind}})
	if len(diags) != diagScanBudget/(MaxSourceBytes-1)+1 {
		t.Fatalf("got %d diagnostics for a 1 MiB file; want %d and the count of the rest", len(diags), diagScanBudget/(MaxSourceBytes-1))
	}
}

func TestAFileLargerThanTheLimitIsRefused(t *testing.T) {
	dir := write(t, map[string]string{"big.hcl": strings.Repeat("# comment\n", MaxSourceBytes/10+1)})
	if d := hasDiag(loadWithin(t, 10*time.Second, dir, Options{}), "Cannot read suite file", "is larger than 1 MiB"); d == nil || filepath.Base(d.Subject.Filename) != "big.hcl" {
		t.Fatalf("want a size diagnostic naming big.hcl, got %v", d)
	}
}

func fifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSpecialFilesAreRefusedBeforeTheyAreRead(t *testing.T) {
	pipe := fifo(t)
	for _, special := range []string{"/dev/zero", pipe} {
		t.Run("file() of "+special+" is an error on its line", func(t *testing.T) {
			dir := write(t, map[string]string{"f.hcl": "locals {\n  x = file(\"" + special + "\")\n}\n"})
			diags := loadWithin(t, 10*time.Second, dir, Options{})
			d := hasDiag(diags, "Error in function call", "not a regular file")
			if d == nil || d.Subject.Start.Line != 2 {
				t.Fatalf("want a diagnostic on line 2, got %v", diags)
			}
		})
		t.Run("--var-file "+special+" is refused", func(t *testing.T) {
			dir := write(t, map[string]string{"v.hcl": "variable \"a\" { default = \"x\" }\n"})
			diags := loadWithin(t, 10*time.Second, dir, Options{VarFiles: []string{special}})
			if d := hasDiag(diags, "Cannot read suite file", "not a regular file"); d == nil || d.Subject.Filename != special {
				t.Fatalf("want a diagnostic naming %s, got %v", special, diags)
			}
		})
		t.Run("a suite path of "+special+" is refused", func(t *testing.T) {
			if d := hasDiag(loadWithin(t, 10*time.Second, special, Options{}), "Cannot read suite file", "not a regular file"); d == nil {
				t.Fatal("want a diagnostic")
			}
		})
	}
}

func TestReadRegularRefusesWhatIsLargerThanAsked(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadRegular(p, 5); err != nil || string(b) != "12345" {
		t.Fatalf("5 bytes within 5: %q %v", b, err)
	}
	if _, err := ReadRegular(p, 4); err == nil || !strings.Contains(err.Error(), "larger than 4 bytes") {
		t.Fatalf("5 bytes within 4: %v", err)
	}
	if _, err := ReadRegular("/dev/null", 4); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("/dev/null: %v", err)
	}
}

func TestADeeplyNestedVarValueIsRefused(t *testing.T) {
	dir := write(t, map[string]string{"v.hcl": "variable \"l\" { type = list(any) }\n"})
	diags := loadWithin(t, 10*time.Second, dir, Options{Vars: []string{"l=" + strings.Repeat("[", 61000)}})
	if d := hasDiag(diags, "Nesting too deep", `-var sets "l" to a value nested more than 128 deep`); d == nil {
		t.Fatalf("want a nesting diagnostic for -var, got %v", diags)
	}
}
