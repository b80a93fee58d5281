package functional

import (
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// The account schema, in draft 2020-12 (the default) and in draft-07, and
// one $ref to a file beside it.
const (
	slideshow2020 = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["slideshow"],
  "properties": {
    "slideshow": {
      "type": "object",
      "required": ["author", "title", "slides"],
      "properties": {
        "author": { "type": "string" },
        "slides": { "type": "array", "items": { "$ref": "slide.json" } }
      }
    }
  }
}`
	slide    = `{ "type": "object", "required": ["title", "type"], "properties": { "title": { "type": "string" } } }`
	strict07 = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["slideshow"],
  "properties": {
    "slideshow": {
      "type": "object",
      "required": ["owner"],
      "properties": {
        "author": { "type": "integer" },
        "date": { "type": "string", "maxLength": 3 },
        "slides": { "type": "array", "maxItems": 1, "items": [{ "type": "object", "required": ["notes"] }] }
      }
    }
  }
}`
)

// go-httpbin's /json is a slideshow: it matches a draft 2020-12 schema
// (with a $ref to a file beside it); against a draft-07 schema that it
// breaks (its items is draft-07's tuple form: only the first slide is
// checked) the failure lists every violation by its JSON pointer.
func TestJSONSchemaChecksTheBodyAndListsEveryViolation(t *testing.T) {
	r := runHTTPBin(t, map[string]string{
		"schemas/slideshow.json": slideshow2020,
		"schemas/slide.json":     slide,
		"schemas/strict.json":    strict07,
		"suite.hcl": `
functional "schema" {
  target = target.httpbin
  case "valid" {
    step "slideshow" {
      http { path = "/json" }
      expect { json_schema = file("schemas/slideshow.json") }
    }
    step "inline" {
      http { path = "/json" }
      expect {
        json_schema = { type = "object", required = ["slideshow"] }
      }
    }
  }
  case "invalid" {
    step "strict" {
      http { path = "/json" }
      expect {
        status      = 200
        json_schema = file("schemas/strict.json")
      }
    }
  }
  case "not-json" {
    step "html" {
      http { path = "/html" }
      expect { json_schema = file("schemas/slideshow.json") }
    }
  }
}`})
	for _, name := range []string{"slideshow", "inline"} {
		if res := r.step(t, "valid", name); res.Status != result.Passed {
			t.Errorf("%s %s: %s", name, res.Status, res.Message)
		}
	}
	bad := r.step(t, "invalid", "strict")
	if bad.Status != result.Failed {
		t.Fatalf("strict %s: %s", bad.Status, bad.Message)
	}
	want := `expect.json_schema at suite.hcl:22:
  the response does not match the schema (5 violations):
    /slideshow: missing property 'owner'
    /slideshow/author: got string, want integer
    /slideshow/date: maxLength: got 19, want 3
    /slideshow/slides: maxItems: got 2, want 1
    /slideshow/slides/0: missing property 'notes'`
	got := bad.Message
	if i := strings.Index(got, "suite.hcl:"); i > 0 {
		got = "expect.json_schema at " + got[i:]
	}
	if !strings.HasPrefix(got, want) {
		t.Errorf("message\n got %s\nwant %s", got, want)
	}
	if html := r.step(t, "not-json", "html"); html.Status != result.Failed || !strings.Contains(html.Message, "the response body is not JSON") {
		t.Errorf("html %s: %s", html.Status, html.Message)
	}
}

func TestABrokenSchemaIsADiagnostic(t *testing.T) {
	got := loadDiags(t, `
functional "schema" {
  target = target.httpbin
  case "c" {
    step "s" {
      http { path = "/json" }
      expect {
        json_schema = { type = "objekt" }
      }
    }
  }
}`)
	if !strings.Contains(got, "suite.hcl:9,23-42: Invalid JSON Schema; expect.json_schema: ") {
		t.Errorf("diagnostics:\n%s", got)
	}
}
