package functional

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
)

// hclBlocks are the ```hcl blocks of a Markdown file.
var hclBlocks = regexp.MustCompile("(?s)```hcl\n(.*?)```")

// Every step example of docs/steps.md loads as written, inside a case of
// a functional suite: what the page shows is the language as it is.
func TestTheStepExamplesOfTheDocsValidate(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "steps.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range hclBlocks.FindAllSubmatch(doc, -1) {
		block := string(m[1])
		if !strings.HasPrefix(strings.TrimSpace(block), "step \"") {
			continue // a fragment (an assert block alone)
		}
		n++
		dir := t.TempDir()
		src := `
variable "password" {
  sensitive = true
  default   = "x"
}
variable "core_url" { default = "http://127.0.0.1:1" }
variable "db_dsn" { default = "postgres://u:p@127.0.0.1:1/db" }
target "t" { url = "http://127.0.0.1:1" }
functional "doc" {
  target = target.t
  case "example" {
` + block + `
  }
}
`
		if err := os.WriteFile(filepath.Join(dir, "doc.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		for name, body := range docFiles {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
			os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
		}
		if _, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}}); diags.HasErrors() {
			t.Errorf("docs/steps.md example %d does not validate: %s\n%s", n, diags.Error(), block)
		}
	}
	if n < 5 {
		t.Fatalf("found %d step examples in docs/steps.md", n)
	}
}

// docFiles are the files the examples name (schemas, certificates, uploads).
var docFiles = map[string]string{
	"schemas/account.json": `{"type": "object", "required": ["balance"], "properties": {"balance": {"type": "number"}}}`,
	"schemas/login.json":   `{"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "required": ["token"]}`,
}
