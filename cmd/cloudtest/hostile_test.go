package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	extast "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// hostile is what a target or a suite author can put into names and
// answers to make a report or a terminal do something.
const hostile = "![x](http://evil) [a](b) <script>alert(1)</script> www.evil.com a@evil.co &amp; _em_ `code`"

// rawControl reports the first control byte (other than \n and \t) in b.
func rawControl(b []byte) (int, bool) {
	for i, c := range b {
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f {
			return i, true
		}
	}
	return 0, false
}

// activeNodes lists the links, images, autolinks and HTML that a GFM
// renderer (goldmark with GitHub's extensions) finds in md.
func activeNodes(t *testing.T, md []byte) []string {
	t.Helper()
	p := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser()
	doc := p.Parse(text.NewReader(md))
	var found []string
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n.Kind() {
		case ast.KindLink, ast.KindImage, ast.KindAutoLink, ast.KindRawHTML, ast.KindHTMLBlock, ast.KindEmphasis, ast.KindCodeSpan, extast.KindStrikethrough:
			var seg bytes.Buffer
			if n.Type() == ast.TypeInline {
				for c := n.FirstChild(); c != nil; c = c.NextSibling() {
					if tx, ok := c.(*ast.Text); ok {
						seg.Write(tx.Segment.Value(md))
					}
				}
			}
			found = append(found, fmt.Sprintf("%s %q", n.Kind(), seg.String()))
		}
		return ast.WalkContinue, nil
	})
	return found
}

func TestHostileNamesAndAnswersStayInert(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			w.Header().Set("Location", hostile)
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("X-Evil", hostile)
		fmt.Fprint(w, "body "+hostile+" \x1b]0;owned\x07 \x1b[2J \x1b[31mred\x07 \u202eevil")
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	// HCL's \u escapes put ESC and BEL into the names themselves.
	src := fmt.Sprintf(`
project = "bank %[1]s \u001b[31m"
target "evil" { url = %[2]q }
functional "suite %[1]s \u001b[31m \u0007" {
  target = target.evil
  step "moved %[1]s \u001b[2J" {
    http { path = "/moved" }
  }
}
functional "answers %[1]s" {
  target = target.evil
  step "body \u001b]0;title\u0007" {
    http { path = "/body" }
    expect { body_contains = "nothing like it" }
  }
}
`, strings.ReplaceAll(hostile, `"`, `\"`), srv.URL)
	os.WriteFile(filepath.Join(dir, "evil.hcl"), []byte(src), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, dir}, &stdout, &stderr)
	if code != exitRejected {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), `\x1b[31m`) {
		t.Errorf("the terminal does not show the escape as text:\n%s", stdout.String())
	}
	for name, b := range map[string][]byte{"stdout": stdout.Bytes(), "stderr": stderr.Bytes()} {
		if i, ok := rawControl(b); ok {
			t.Errorf("%s has a raw control byte %#x at %d: %q", name, b[i], i, b[max(0, i-40):min(len(b), i+40)])
		}
	}
	run := onlyRunDir(t, out)
	for _, f := range []string{"summary.md", "report.html", "report.json", "junit.xml", "results.jsonl"} {
		b, err := os.ReadFile(filepath.Join(run, f))
		if err != nil {
			t.Fatal(err)
		}
		if i, ok := rawControl(b); ok {
			t.Errorf("%s has a raw control byte %#x at %d: %q", f, b[i], i, b[max(0, i-40):min(len(b), i+40)])
		}
		// The machine files keep the text as data (JSON and XML escape
		// what they must); what people read shows no override either.
		if (f == "summary.md" || f == "report.html") && bytes.Contains(b, []byte("\u202e")) {
			t.Errorf("%s has a raw right-to-left override", f)
		}
	}
	md, _ := os.ReadFile(filepath.Join(run, "summary.md"))
	if !bytes.Contains(md, []byte("Location header")) || !bytes.Contains(md, []byte("a@evil.co")) {
		t.Fatalf("summary.md does not show the target's answer at all:\n%s", md)
	}
	// The only inline code is cloudtest's own run id and the only emphasis
	// its verdict; nothing else is active.
	for _, n := range activeNodes(t, md) {
		if n == fmt.Sprintf("CodeSpan %q", filepath.Base(run)) || n == `Emphasis "Verdict: REJECTED"` {
			continue
		}
		t.Errorf("summary.md renders %s from hostile text", n)
	}
	if t.Failed() {
		t.Logf("summary.md:\n%s", md)
	}
}

func TestValidateShowsNoRawEscapeFromASourceLine(t *testing.T) {
	dir := t.TempDir()
	// Raw bytes in the file: ESC, BEL, CR and a right-to-left override on
	// the line of an error, in a block label too.
	src := "target \"demo\" { embedded = \"demobank\" }\n" +
		"functional \"x\x1b]0;owned\x07\" {\n" +
		"  target  = target.demo\n" +
		"  timeout = \"3\x1b[2J\x07minutes\u202e\" # \x1b[31mred\r\n" +
		"  step \"s\" {\n    http { path = \"/healthz\" }\n  }\n}\n"
	path := filepath.Join(dir, "bad.hcl")
	os.WriteFile(path, []byte(src), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "--no-color", path}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("exit %d, want 2\n%s", code, stderr.String())
	}
	got := stderr.Bytes()
	if !bytes.Contains(got, []byte("bad.hcl line 4")) || !bytes.Contains(got, []byte("Invalid duration")) {
		t.Fatalf("validate does not name the line:\n%s", got)
	}
	if i, ok := rawControl(got); ok {
		t.Errorf("validate printed a raw control byte %#x at %d: %q", got[i], i, got[max(0, i-40):min(len(got), i+40)])
	}
	if bytes.Contains(got, []byte("\u202e")) {
		t.Errorf("validate printed a raw right-to-left override")
	}

	// With colour on, the only escapes are hcl's own colours, and the
	// highlighted range still covers the value on the line.
	parser := hclparse.NewParser()
	f, diags := parser.ParseHCL([]byte(src), path)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_ = f
	subject := hcl.Range{Filename: path, Start: hcl.Pos{Line: 4, Column: 13, Byte: bytes.Index([]byte(src), []byte(`"3`))},
		End: hcl.Pos{Line: 4, Column: 30, Byte: bytes.Index([]byte(src), []byte(`" #`)) + 1}}
	var colored bytes.Buffer
	printDiags(newPrintable(&colored, stderrSequences), parser.Files(), hcl.Diagnostics{{Severity: hcl.DiagError,
		Summary: "Invalid duration \x1b[2J", Detail: "found \x07", Subject: &subject}}, true)
	stripped := colored.String()
	for _, seq := range stderrSequences {
		stripped = strings.ReplaceAll(stripped, seq, "")
	}
	if i, ok := rawControl([]byte(stripped)); ok {
		t.Errorf("coloured diagnostics carry a raw control byte %#x besides hcl's colours: %q", stripped[i], colored.String())
	}
	if !strings.Contains(colored.String(), "\x1b[1;4m\"3?[2J?minutes???\"\x1b[0m") {
		t.Errorf("the highlighted range moved: %q", colored.String())
	}
}
