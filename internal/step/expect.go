package step

import (
	"fmt"
	"maps"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gcustom"
	"github.com/onsi/gomega/types"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// Expect is an expect block. Each attribute is evaluated when the step runs
// (expected values may use captures) and checked with a gomega matcher.
type Expect struct {
	Status       hcl.Expression // a number or a list of numbers
	Headers      hcl.Expression // name -> exact value
	HeadersMatch hcl.Expression // name -> regular expression
	JSON         hcl.Expression // path -> value
	JSONExists   hcl.Expression // list of paths
	BodyContains hcl.Expression // string or list of strings
	BodyMatch    hcl.Expression // regular expression
	MaxDuration  time.Duration
	RowCount     hcl.Expression
	JSONSchema   hcl.Expression // a JSON Schema, as JSON text (file(…)) or an object
	OpenAPI      bool           // the answer matches the target's OpenAPI document
	openapiRange hcl.Range
	DeclRange    hcl.Range
	maxRange     hcl.Range
	// schema is JSONSchema compiled at load time (nil: it uses run-time
	// values, and is compiled when checked, as schemaURL).
	schema    *jsonschema.Schema
	schemaURL string
}

var expectSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "status"}, {Name: "headers"}, {Name: "headers_match"}, {Name: "json"}, {Name: "json_exists"},
	{Name: "body_contains"}, {Name: "body_match"}, {Name: "max_duration"}, {Name: "row_count"}, {Name: "json_schema"},
	{Name: "openapi"},
}}

func decodeExpect(b *hcl.Block, dc *config.DecodeContext, r roots) (*Expect, hcl.Diagnostics) {
	content, diags := b.Body.Content(expectSchema)
	e := &Expect{DeclRange: b.DefRange}
	late := lateAttrs(content, dc, r.request, &diags)
	e.Status, e.Headers, e.HeadersMatch = late("status"), late("headers"), late("headers_match")
	e.JSON, e.JSONExists = late("json"), late("json_exists")
	e.BodyContains, e.BodyMatch, e.RowCount = late("body_contains"), late("body_match"), late("row_count")
	if a, ok := content.Attributes["openapi"]; ok {
		v, d := dc.Bool(a)
		diags = append(diags, d...)
		e.OpenAPI, e.openapiRange = v, a.Expr.Range()
	}
	n := len(diags)
	if e.JSONSchema = late("json_schema"); e.JSONSchema != nil && !diags[n:].HasErrors() {
		// (a reference the loader refused is reported once, by late)
		diags = append(diags, e.decodeSchema(content.Attributes["json_schema"], dc)...)
	}
	if a, ok := content.Attributes["max_duration"]; ok {
		d, dd := dc.Duration(a)
		diags = append(diags, dd...)
		e.MaxDuration, e.maxRange = d, a.Expr.Range()
	}
	diags = append(diags, e.checkConstants()...)
	return e, diags
}

// checkConstants refuses, where they are written, expectations known at
// load time (no reference) that can never be checked: a status that is no
// whole number from 100 to 599 ("two hundred", 200.5, 1e20) or an empty
// list, and a body_match or headers_match that is no regular expression.
func (e *Expect) checkConstants() hcl.Diagnostics {
	var diags hcl.Diagnostics
	constant := func(x hcl.Expression) (cty.Value, bool) {
		if x == nil || len(x.Variables()) > 0 {
			return cty.NilVal, false
		}
		v, d := x.Value(nil)
		return v, !d.HasErrors() && v.IsWhollyKnown() && !v.IsNull()
	}
	bad := func(x hcl.Expression, field, why string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid expect." + field, Detail: why, Subject: x.Range().Ptr()})
	}
	if v, ok := constant(e.Status); ok {
		codes, isList := intList(v)
		valid := isList
		for _, c := range codes {
			valid = valid && c >= 100 && c <= 599
		}
		if !valid {
			bad(e.Status, "status", "expect.status must be an HTTP status (a whole number from 100 to 599) or a non-empty list of them, such as 200 or [200, 201].")
		}
	}
	if v, ok := constant(e.BodyMatch); ok {
		if pats, isList := stringList(v); isList {
			for _, p := range pats {
				if _, err := regexp.Compile(p); err != nil {
					bad(e.BodyMatch, "body_match", fmt.Sprintf("%q is not a regular expression: %v.", p, err))
				}
			}
		}
	}
	if v, ok := constant(e.HeadersMatch); ok && (v.Type().IsObjectType() || v.Type().IsMapType()) {
		for it := v.ElementIterator(); it.Next(); {
			k, p := it.Element()
			if p.Type() != cty.String {
				continue
			}
			if _, err := regexp.Compile(p.AsString()); err != nil {
				bad(e.HeadersMatch, "headers_match", fmt.Sprintf("the pattern of %s, %q, is not a regular expression: %v.", k.AsString(), p.AsString(), err))
			}
		}
	}
	return diags
}

// readsBody reports whether an expectation looks at the response body (e
// may be nil).
func (e *Expect) readsBody() bool {
	return e != nil && (e.JSON != nil || e.JSONExists != nil || e.BodyContains != nil || e.BodyMatch != nil || e.JSONSchema != nil || e.OpenAPI)
}

// observed is what a request gave, in the shapes the matchers compare.
type observed struct {
	status int
	// hx is the HTTP exchange whose response headers header reads (nil:
	// a step of another kind, with no headers).
	hx   *httpExchange
	body string
	// red is the attempt's redactor, which an excerpt of the body is
	// redacted with before it is cut (nil: none known).
	red      func() *Redactor
	duration time.Duration
	rowCount int
	isSQL    bool
	// For expect.openapi: the request answered, the answer's headers and
	// the target's document (nil: none).
	req        *http.Request
	respHeader http.Header
	api        *openAPI
}

// header is a response header's value as response.headers gives it ("":
// none, or no HTTP step).
func (o observed) header(name string) string {
	if o.hx == nil {
		return ""
	}
	return o.hx.header(name)
}

// check runs every expectation and returns one check per expectation, in
// the order of the phases: status, headers, JSON, body, schema, OpenAPI,
// duration, rows.
func (e *Expect) check(obs observed, ectx *hcl.EvalContext) []result.Check {
	c := &checker{obs: obs, ectx: ectx}
	e.checkStatus(c)
	e.checkHeaders(c)
	e.checkJSON(c)
	e.checkBody(c)
	e.checkSchema(c)
	e.checkOpenAPI(c)
	if e.MaxDuration > 0 {
		c.add("expect.max_duration", e.maxRange, obs.duration, gomega.BeNumerically("<=", e.MaxDuration), func() string {
			return fmt.Sprintf("took %s, want at most %s", FormatDuration(obs.duration), FormatDuration(e.MaxDuration))
		})
	}
	e.checkRowCount(c)
	return c.checks
}

// checker collects the checks of one expect block.
type checker struct {
	obs    observed
	ectx   *hcl.EvalContext
	checks []result.Check
}

// add checks actual with a gomega matcher; a failure says what came and
// what was wanted in the words of failure (gomega's own messages print Go
// types and durations in nanoseconds).
func (c *checker) add(name string, rng hcl.Range, actual any, m types.GomegaMatcher, failure func() string) {
	ck := result.Check{Name: name, Status: result.Passed, Location: config.Location(rng)}
	ok, err := m.Match(actual)
	switch {
	case err != nil:
		ck.Status, ck.Message = result.Failed, err.Error()
	case !ok:
		ck.Status, ck.Message = result.Failed, failure()
	}
	c.checks = append(c.checks, ck)
}

// bad records an expectation that could not be checked.
func (c *checker) bad(name string, rng hcl.Range, err error) {
	c.checks = append(c.checks, result.Check{Name: name, Status: result.Errored, Message: err.Error(), Location: config.Location(rng)})
}

// fail records a failed check with its message.
func (c *checker) fail(name string, rng hcl.Range, msg string) {
	c.checks = append(c.checks, result.Check{Name: name, Status: result.Failed, Location: config.Location(rng), Message: msg})
}

// pass records a passed check.
func (c *checker) pass(name string, rng hcl.Range) {
	c.checks = append(c.checks, result.Check{Name: name, Status: result.Passed, Location: config.Location(rng)})
}

func (e *Expect) checkStatus(c *checker) {
	if e.Status == nil {
		return
	}
	obs := c.obs
	v, err := evalValue(e.Status, c.ectx)
	if err != nil {
		c.bad("expect.status", e.Status.Range(), err)
	} else if codes, ok := intList(v); !ok {
		c.bad("expect.status", e.Status.Range(), fmt.Errorf("status must be a number or a list of numbers"))
	} else if len(codes) == 1 {
		c.add("expect.status", e.Status.Range(), obs.status, gomega.Equal(codes[0]), func() string {
			return fmt.Sprintf("got status %d, want %d", obs.status, codes[0])
		})
	} else {
		elems := make([]any, len(codes))
		for i, code := range codes {
			elems[i] = code
		}
		c.add("expect.status", e.Status.Range(), obs.status, gomega.BeElementOf(elems...), func() string {
			return fmt.Sprintf("got status %d, want one of %s", obs.status, joinInts(codes))
		})
	}
}

func (e *Expect) checkHeaders(c *checker) {
	obs := c.obs
	if e.Headers != nil {
		if m, err := evalStringMap(e.Headers, c.ectx, "headers"); err != nil {
			c.bad("expect.headers", e.Headers.Range(), err)
		} else {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				c.add(fmt.Sprintf("expect.headers[%q]", k), e.Headers.Range(), obs.header(k), gomega.Equal(m[k]), func() string {
					return fmt.Sprintf("got %s, want %q", headerValue(k, obs.header(k)), m[k])
				})
				hideHeader(c.checks, k, obs.header(k))
			}
		}
	}
	if e.HeadersMatch != nil {
		if m, err := evalStringMap(e.HeadersMatch, c.ectx, "headers_match"); err != nil {
			c.bad("expect.headers_match", e.HeadersMatch.Range(), err)
		} else {
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if _, d := compile(m[k], e.HeadersMatch.Range(), "headers_match"); d != nil {
					c.bad("expect.headers_match", e.HeadersMatch.Range(), fmt.Errorf("%s", d.Detail))
					continue
				}
				c.add(fmt.Sprintf("expect.headers_match[%q]", k), e.HeadersMatch.Range(), obs.header(k), gomega.MatchRegexp(m[k]), func() string {
					return fmt.Sprintf("got %s, which does not match %s", headerValue(k, obs.header(k)), m[k])
				})
				hideHeader(c.checks, k, obs.header(k))
			}
		}
	}
}

func (e *Expect) checkJSON(c *checker) {
	if e.JSON == nil && e.JSONExists == nil {
		return
	}
	obs := c.obs
	doc, docErr := decodeExact(obs.body)
	dupPath, dup := "", false
	if docErr == nil {
		dupPath, dup = duplicateKey(obs.body)
	}
	jsonCheck := func(name string, rng hcl.Range, path string, want any, exists bool) {
		if docErr != nil {
			c.fail(name, rng, fmt.Sprintf("the response body is not JSON (%v); it begins:\n    %s", docErr, obs.excerpt()))
			return
		}
		if dup {
			c.fail(name, rng, fmt.Sprintf("the response JSON has the key at %q twice in one object: which of the two a client reads depends on its parser, so nothing in it can be checked; it begins:\n    %s", dupPath, obs.excerpt()))
			return
		}
		got, found := lookupPath(doc, path)
		if !found {
			c.fail(name, rng, fmt.Sprintf("the response JSON has nothing at %q; the response was:\n    %s", path, obs.excerpt()))
			return
		}
		if exists {
			c.pass(name, rng)
			return
		}
		c.add(name, rng, got, gcustom.MakeMatcher(func(got any) (bool, error) { return jsonEqual(got, want), nil }), func() string {
			return fmt.Sprintf("got %s, want %s", jsonText(got), jsonText(want))
		})
	}
	if e.JSON != nil {
		v, err := evalValue(e.JSON, c.ectx)
		if err != nil || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
			if err == nil {
				err = fmt.Errorf("json must be an object of path = value, such as { \"currency\" = \"CNY\" }")
			}
			c.bad("expect.json", e.JSON.Range(), err)
		} else {
			want := exactGoValue(v).(map[string]any)
			for _, p := range slices.Sorted(maps.Keys(want)) {
				jsonCheck(fmt.Sprintf("expect.json[%q]", p), e.JSON.Range(), p, want[p], false)
			}
		}
	}
	if e.JSONExists != nil {
		v, err := evalValue(e.JSONExists, c.ectx)
		var paths []string
		ok := false
		if err == nil {
			paths, ok = stringList(v)
		}
		if err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("json_exists must be a list of paths, such as [\"token\"]")
			}
			c.bad("expect.json_exists", e.JSONExists.Range(), err)
		} else {
			for _, p := range paths {
				jsonCheck(fmt.Sprintf("expect.json_exists[%q]", p), e.JSONExists.Range(), p, nil, true)
			}
		}
	}
}

func (e *Expect) checkBody(c *checker) {
	obs := c.obs
	if e.BodyContains != nil {
		v, err := evalValue(e.BodyContains, c.ectx)
		var subs []string
		ok := false
		if err == nil {
			subs, ok = stringList(v)
		}
		if err != nil || !ok {
			if err == nil {
				err = fmt.Errorf("body_contains must be a string or a list of strings")
			}
			c.bad("expect.body_contains", e.BodyContains.Range(), err)
		} else {
			for _, s := range subs {
				c.add("expect.body_contains", e.BodyContains.Range(), obs.body, gomega.ContainSubstring(s), func() string {
					return fmt.Sprintf("the body does not contain %q; it begins:\n    %s", s, obs.excerpt())
				})
			}
		}
	}
	if e.BodyMatch != nil {
		if p, err := evalString(e.BodyMatch, c.ectx, "body_match"); err != nil {
			c.bad("expect.body_match", e.BodyMatch.Range(), err)
		} else if _, d := compile(p, e.BodyMatch.Range(), "body_match"); d != nil {
			c.bad("expect.body_match", e.BodyMatch.Range(), fmt.Errorf("%s", d.Detail))
		} else {
			c.add("expect.body_match", e.BodyMatch.Range(), obs.body, gomega.MatchRegexp(p), func() string {
				return fmt.Sprintf("the body does not match %s; it begins:\n    %s", p, obs.excerpt())
			})
		}
	}
}

func (e *Expect) checkRowCount(c *checker) {
	if e.RowCount == nil {
		return
	}
	obs := c.obs
	v, err := evalValue(e.RowCount, c.ectx)
	var n []int
	ok := false
	if err == nil {
		n, ok = intList(v)
	}
	if err != nil || !ok || len(n) != 1 {
		if err == nil {
			err = fmt.Errorf("row_count must be a number")
		}
		c.bad("expect.row_count", e.RowCount.Range(), err)
	} else {
		c.add("expect.row_count", e.RowCount.Range(), obs.rowCount, gomega.Equal(n[0]), func() string {
			return fmt.Sprintf("got %d rows, want %d", obs.rowCount, n[0])
		})
	}
}

func evalValue(e hcl.Expression, ctx *hcl.EvalContext) (cty.Value, error) {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, diagError(diags)
	}
	return v, nil
}

// intList accepts a number or a list of whole numbers.
func intList(v cty.Value) ([]int, bool) {
	if v.IsNull() || !v.IsKnown() {
		return nil, false
	}
	if v.Type() == cty.Number {
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		return []int{int(i)}, acc == big.Exact
	}
	if !v.CanIterateElements() || v.Type().IsMapType() || v.Type().IsObjectType() {
		return nil, false
	}
	var out []int
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		n, ok := intList(e)
		if !ok || len(n) != 1 {
			return nil, false
		}
		out = append(out, n[0])
	}
	return out, len(out) > 0
}

// stringList accepts a string or a list of strings.
func stringList(v cty.Value) ([]string, bool) {
	if v.IsNull() || !v.IsKnown() {
		return nil, false
	}
	if v.Type() == cty.String {
		return []string{v.AsString()}, true
	}
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil {
		return nil, false
	}
	var out []string
	for it := lv.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, e.AsString())
	}
	return out, true
}

// excerptLen is how much of a body a failed check's message shows.
const excerptLen = 300

// excerpt is the beginning of the body for a failed check's message,
// redacted and masked (ResponseBody's rules) before it is cut, so that a
// secret across the cut shows no part of itself.
func (o observed) excerpt() string {
	var red *Redactor
	if o.red != nil {
		red = o.red()
	}
	s, cut := red.Excerpt([]byte(strings.TrimSpace(o.body)), excerptLen, true)
	if cut {
		s += " …"
	}
	if s == "" {
		return "(empty)"
	}
	return s
}

// hideHeader takes the value of a credential header (Set-Cookie) out of
// the message of the last check, which printed what came back.
func hideHeader(checks []result.Check, name, value string) {
	if len(checks) == 0 || value == "" || !SecretHeader(name) {
		return
	}
	c := &checks[len(checks)-1]
	c.Message = strings.ReplaceAll(c.Message, value, Redacted)
}
