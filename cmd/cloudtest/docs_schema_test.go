package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/step"
	"github.com/cloudtest/cloudtest/suites"
)

// loaderSchema is the schema tree of what the CLI's loader accepts: the
// top-level blocks, every suite kind and every other block kind, each
// built from the body schemas its decoder reads with.
func loaderSchema() *config.Schema {
	return config.RootSchema(config.Options{Kinds: suites.Kinds, Blocks: blocks}, step.TemplateBodySchema())
}

// The schema tree is the decoders' own: every nested block a body schema
// declares has its schema in the tree, the tree has no block that no body
// schema declares, and every block and attribute of the examples is in it
// at its place; so the walk of the docs test misses nothing.
func TestTheSchemaTreeIsTheDecodersOwn(t *testing.T) {
	root := loaderSchema()
	for _, err := range root.Check() {
		t.Error(err)
	}
	for _, name := range append(suites.Names(), "evidence", "requirement", "waiver", "target", "step_template") {
		b := root.Blocks[name]
		if b == nil || len(b.Bodies) == 0 {
			t.Errorf("top-level block %s has no body schema in the tree (give its kind a Schema)", name)
		}
	}
	n := 0
	root.Walk(func(path []string, s *config.Schema) { n++ })
	if n < 60 {
		t.Fatalf("the tree has %d blocks; the loader accepts more", n)
	}
	// On real input too: every block and attribute of the examples
	// (which the loader accepts: TestValidateAcceptsTheExample and the
	// examples' runs) is in the tree at its place.
	files, _ := filepath.Glob("../../examples/*/*.hcl")
	more, _ := filepath.Glob("../../examples/*/*/*.hcl")
	files = append(files, more...)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, diags := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		inTree(t, root, file.Body.(*hclsyntax.Body), filepath.Base(f))
	}
	if len(files) < 10 {
		t.Fatalf("only %d example files", len(files))
	}
}

// inTree checks that each attribute and block of body is one s knows.
func inTree(t *testing.T, s *config.Schema, body *hclsyntax.Body, where string) {
	t.Helper()
	if s.Free {
		return
	}
	attrs := s.Attributes()
	for name, a := range body.Attributes {
		if !slices.Contains(attrs, name) {
			t.Errorf("%s: attribute %s (%s) is not in the schema tree", where, name, config.Location(a.SrcRange))
		}
	}
	for _, b := range body.Blocks {
		sub := s.Blocks[b.Type]
		if sub != nil && sub.ByLabel != nil && len(b.Labels) > 0 {
			sub = sub.ByLabel[b.Labels[0]]
		}
		if sub == nil {
			t.Errorf("%s: block %s (%s) is not in the schema tree", where, b.Type, config.Location(b.DefRange()))
			continue
		}
		inTree(t, sub, b.Body, where+" › "+b.Type)
	}
}

// docPages are the pages that document the language.
func docPages(t *testing.T) map[string]string {
	t.Helper()
	paths, _ := filepath.Glob("../../docs/*.md")
	pages := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.Base(p)] = string(b)
	}
	if len(pages) < 5 {
		t.Fatalf("only %d pages under docs/", len(pages))
	}
	return pages
}

// mentionsBlock: the page writes the block (in a snippet, `name {` or
// `name "label" {`) or names it as code (`name`).
func mentionsBlock(page, name string) bool {
	return matches(`(?m)(^|[\s{(\x60])NAME(\s+"[^"\n]*")*\s*\{|\x60NAME(\x60| \{| ")`, name, page)
}

// mentionsLabel: the page writes a block whose first label picks its body
// (check "tls" { … }) or names the label as code.
func mentionsLabel(page, block, label string) bool {
	return matches(regexp.QuoteMeta(block)+`\s+"NAME"|\x60NAME\x60`, label, page)
}

// mentionsAttr: the page sets the attribute in a snippet (`name =` on a
// line or in a one-line block `{ name = … }`) or names it as code (`name`,
// `name = …`, `block.name`).
func mentionsAttr(page, name string) bool {
	return matches(`(?m)^\s*NAME\s*=|[{,]\s*NAME\s*=|[\x60.]NAME(\x60|\s*=|\[)|\x60[^\x60\n]*[\s{]NAME\s*=`, name, page)
}

var patterns sync.Map

// matches reports whether page matches pattern with NAME replaced by
// name, quoted; the compiled patterns are kept (the walk asks thousands).
func matches(pattern, name, page string) bool {
	expr := strings.ReplaceAll(pattern, "NAME", regexp.QuoteMeta(name))
	re, ok := patterns.Load(expr)
	if !ok {
		re, _ = patterns.LoadOrStore(expr, regexp.MustCompile(expr))
	}
	return re.(*regexp.Regexp).MatchString(page)
}

// Every block and attribute the loader accepts, found by walking the
// schema tree its decoders read with (TestTheSchemaTreeIsTheDecodersOwn),
// is documented under docs/: a block is written or named on some page,
// and each of its attributes is named on a page that names the block too.
// Functions have their own test (TestEveryFunctionIsDocumented).
func TestEveryBlockAndAttributeIsDocumented(t *testing.T) {
	pages := docPages(t)
	on := func(match func(string) bool) []string {
		var out []string
		for name, p := range pages {
			if match(p) {
				out = append(out, name)
			}
		}
		return out
	}
	checked := 0
	loaderSchema().Walk(func(path []string, s *config.Schema) {
		where := "the top level"
		var blockPages []string
		if len(path) > 0 {
			where = strings.Join(path, " › ")
			last := path[len(path)-1]
			if typ, label, ok := strings.Cut(strings.TrimSuffix(last, "]"), "["); ok {
				blockPages = on(func(p string) bool { return mentionsLabel(p, typ, label) })
				if len(blockPages) == 0 {
					t.Errorf("%s: %s %q is not documented under docs/ (write %s %q { … } or name `%s`)", where, typ, label, typ, label, label)
				}
			} else {
				blockPages = on(func(p string) bool { return mentionsBlock(p, last) })
				if len(blockPages) == 0 {
					t.Errorf("%s: the block %s is not documented under docs/", where, last)
				}
			}
			checked++
		} else {
			for name := range pages {
				blockPages = append(blockPages, name)
			}
		}
		for _, a := range s.Attributes() {
			checked++
			found := false
			for _, name := range blockPages {
				if mentionsAttr(pages[name], a) {
					found = true
					break
				}
			}
			if !found {
				t.Errorf("%s: the attribute %s is not documented on a page of its block (%s)", where, a, strings.Join(blockPages, ", "))
			}
		}
	})
	if checked < 300 {
		t.Fatalf("only %d blocks and attributes were checked", checked)
	}
}
