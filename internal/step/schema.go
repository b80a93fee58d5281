package step

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/cloudtest/cloudtest/internal/config"
)

// expect { json_schema = file("schemas/account.json") } checks the body
// against a JSON Schema (draft 2020-12 unless its $schema names another,
// such as draft-07) and lists every violation by its JSON pointer. A
// schema known at load time is compiled once, and a broken one is a
// diagnostic of validate; one built from captures is compiled per check.

// schemaPrinter words the library's messages.
var schemaPrinter = message.NewPrinter(language.English)

// decodeSchema compiles the schema of a json_schema attribute when it needs
// no run-time value.
func (e *Expect) decodeSchema(a *hcl.Attribute, dc *config.DecodeContext) hcl.Diagnostics {
	e.schemaURL = schemaURL(a.Expr, dc.Config().Dir)
	if runTime(a.Expr) {
		return nil
	}
	v, diags := a.Expr.Value(dc.Static())
	if diags.HasErrors() {
		return diags
	}
	sch, err := compileSchema(v, e.schemaURL)
	if err != nil {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid JSON Schema",
			Detail: fmt.Sprintf("expect.json_schema: %v", err), Subject: a.Expr.Range().Ptr()})
	}
	e.schema = sch
	return diags
}

// schemaURL names the schema for the compiler: the file it was read from
// (so that a $ref to a file beside it is found there), else a name in the
// configuration's directory.
func schemaURL(expr hcl.Expression, dir string) string {
	path := filepath.Join(dir, "json_schema.json")
	if call, ok := expr.(*hclsyntax.FunctionCallExpr); ok && call.Name == "file" && len(call.Args) == 1 {
		if lit := literal(call.Args[0]); lit != nil {
			path = *lit
			if !filepath.IsAbs(path) {
				path = filepath.Join(dir, path)
			}
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return "file://" + filepath.ToSlash(abs)
}

// compileSchema compiles v, JSON text or an HCL object, as a schema.
func compileSchema(v cty.Value, url string) (*jsonschema.Schema, error) {
	if v.IsNull() || !v.IsWhollyKnown() {
		return nil, fmt.Errorf("the schema is null or not known")
	}
	v, _ = v.UnmarkDeep()
	var text string
	if v.Type() == cty.String {
		text = v.AsString()
	} else {
		b, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return nil, err
		}
		text = string(b)
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("the schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), url, filepath.Base(url)))
	}
	return sch, nil
}

func (e *Expect) checkSchema(c *checker) {
	if e.JSONSchema == nil {
		return
	}
	const name = "expect.json_schema"
	rng := e.JSONSchema.Range()
	sch := e.schema
	if sch == nil {
		v, err := evalValue(e.JSONSchema, c.ectx)
		if err == nil {
			sch, err = compileSchema(v, e.schemaURL)
		}
		if err != nil {
			c.bad(name, rng, err)
			return
		}
	}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(c.obs.body))
	if err != nil {
		c.fail(name, rng, fmt.Sprintf("the response body is not JSON (%v); it begins:\n    %s", err, c.obs.excerpt()))
		return
	}
	err = sch.Validate(doc)
	if err == nil {
		c.pass(name, rng)
		return
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		c.bad(name, rng, err)
		return
	}
	lines := violations(ve)
	word := "violations"
	if len(lines) == 1 {
		word = "violation"
	}
	c.fail(name, rng, fmt.Sprintf("the response does not match the schema (%d %s):\n%s", len(lines), word, strings.Join(lines, "\n")))
}

// violations lists the leaves of a validation error, one line each: the
// JSON pointer of the value and what is wrong with it, in document order
// (a value before the values inside it).
func violations(ve *jsonschema.ValidationError) []string {
	type violation struct{ at, what string }
	var vs []violation
	seen := map[violation]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			v := violation{pointer(e.InstanceLocation), e.ErrorKind.LocalizedString(schemaPrinter)}
			if !seen[v] {
				seen[v] = true
				vs = append(vs, v)
			}
			return
		}
		for _, cause := range e.Causes {
			walk(cause)
		}
	}
	walk(ve)
	slices.SortStableFunc(vs, func(a, b violation) int {
		if c := strings.Compare(a.at, b.at); c != 0 {
			return c
		}
		return strings.Compare(a.what, b.what)
	})
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("  %s: %s", v.at, v.what)
	}
	return out
}

// pointer is the JSON pointer (RFC 6901) of a location; the whole document
// is shown as "/" rather than the empty pointer, so that it can be seen.
func pointer(loc []string) string {
	if len(loc) == 0 {
		return "/"
	}
	var b strings.Builder
	for _, tok := range loc {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(tok))
	}
	return b.String()
}
