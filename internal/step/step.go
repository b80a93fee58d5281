// Package step is the request machinery every suite kind shares: one
// request (http, sql or tcp), its expectations (checked with gomega
// matchers, so a failure says what was expected and what came back), its
// assertions (HCL conditions), its captures and an optional polling loop.
package step

import (
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/cloudtest/cloudtest/internal/config"
)

// BlockSchema is the header of a step block, for the schemas of suites.
var BlockSchema = hcl.BlockHeaderSchema{Type: "step", LabelNames: []string{"name"}}

// roots are the run-time values expressions may use: request attributes
// the captures and each (plus what the suite kind adds, such as feed);
// expect, assert and capture also the response.
type roots struct {
	request, check []string
}

func newRoots(extra []string) roots {
	req := append([]string{"capture", "each"}, extra...)
	return roots{request: req, check: append(append([]string(nil), req...), "response")}
}

// Step is a decoded step block.
type Step struct {
	Name       string
	DeclRange  hcl.Range
	HTTP       *HTTPRequest
	SQL        *SQLQuery
	TCP        *TCPConnect
	Expect     *Expect
	Asserts    []*Assert
	Captures   []Capture
	Eventually *Eventually
	// Template is the step_template the step uses (nil: none), and params
	// the arguments it gives; param is then a root of its expressions.
	Template *config.StepTemplate
	params   *config.ParamArgs

	// roots are the run-time roots the step's expressions refer to (nil:
	// not known, so all are given); a load evaluates steps per request and
	// builds only these.
	roots         map[string]bool
	responseOnce  sync.Once
	statusOnce    sync.Once
	secretOnce    sync.Once
	secretPaths   [][]string // secretResponsePaths, worked out once
	saysStatusV   bool       // saysStatus, worked out once
	needsResponse bool
	statusOnly    bool // of the response, only response.status is read
	allFields     bool
	fields        map[string]bool
}

// Assert is an assert block: a condition and the message shown when it is false.
type Assert struct {
	Condition hcl.Expression
	// ErrorMessage is the message, or, when it uses run-time values
	// (Message is then set), its source text: the check's name, the same
	// in every run.
	ErrorMessage string
	// Message is an error_message that uses captures or the response,
	// evaluated when the condition is false with the condition's context.
	Message   hcl.Expression
	DeclRange hcl.Range
	name      atomic.Pointer[assertName]
}

// Capture names a value taken from the response for later steps.
// Sensitive captures are redacted from every output, like sensitive
// variables (see captureIsSensitive).
type Capture struct {
	Name      string
	Expr      hcl.Expression
	Sensitive bool
	// late are the references of Expr to what is a secret or not only at
	// run time (a capture, a template's param, each, feed): a capture
	// computed from one that is a secret is a secret too (runSecret).
	late []hcl.Traversal
}

// Eventually repeats the step until its checks pass or Within passes.
type Eventually struct {
	Within, Every time.Duration
}

var stepSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "description"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "http"}, {Type: "sql"}, {Type: "tcp"},
		{Type: "expect"}, {Type: "assert"}, {Type: "capture"}, {Type: "eventually"},
	},
}

// Decode decodes a step block.
func Decode(block *hcl.Block, dc *config.DecodeContext) (*Step, hcl.Diagnostics) {
	return DecodeWith(block, dc)
}

// DecodeWith decodes a step block whose expressions may also use the given
// run-time roots (a performance journey's "feed"); the suite provides their
// values through Env.Vars.
func DecodeWith(block *hcl.Block, dc *config.DecodeContext, extraRoots ...string) (*Step, hcl.Diagnostics) {
	r := newRoots(extraRoots)
	s := &Step{Name: block.Labels[0], DeclRange: block.DefRange, roots: referencedRoots(block.Body)}
	useContent, rest, diags := block.Body.PartialContent(config.UseSchema())
	content, d := rest.Content(stepSchema)
	diags = append(diags, d...)
	blocks, rt, d, ok := s.useTemplate(block, dc, useContent, r)
	diags = append(diags, d...)
	if !ok {
		return nil, diags
	}
	for _, b := range content.Blocks {
		blocks = append(blocks, sourced{b, dc})
	}
	requests, asserts := 0, 0
	for _, sb := range blocks {
		b := sb.block
		switch b.Type {
		case "http", "sql", "tcp":
			requests++
		case "assert":
			asserts++
		}
	}
	if requests == 0 {
		// A step of only asserts (and captures) compares values the case
		// already has: there is no response to refer to.
		r.check, rt.check = r.request, rt.request
	}
	requests, d = s.decodeBlocks(blocks, r, rt)
	diags = append(diags, d...)
	if s.HTTP != nil && s.params != nil {
		s.HTTP.sensitive = s.params.Sensitive
	}
	diags = append(diags, s.checkShape(block, requests, asserts)...)
	return s, diags
}

// useTemplate reads a step's use and with: the blocks of the template it
// uses, each with the template's context, and the roots of the template's
// body (the step's and param); ok is false when the template is unknown.
func (s *Step) useTemplate(block *hcl.Block, dc *config.DecodeContext, useContent *hcl.BodyContent, r roots) (blocks []sourced, rt roots, diags hcl.Diagnostics, ok bool) {
	rt = r
	if use := useContent.Attributes["use"]; use != nil {
		tpl, tdc, args, d := dc.UseTemplate(block, use, useContent.Attributes["with"], r.request)
		diags = append(diags, d...)
		if tpl == nil {
			return nil, rt, diags, false
		}
		s.Template, s.params = tpl, args
		tc, d := tpl.Body.Content(stepSchema)
		diags = append(diags, tdc.NoteUse(d)...)
		for _, b := range tc.Blocks {
			blocks = append(blocks, sourced{b, tdc})
		}
		for root := range referencedRoots(tpl.Body) {
			if s.roots != nil {
				s.roots[root] = true
			}
		}
		rt = roots{request: append(append([]string(nil), r.request...), "param"), check: append(append([]string(nil), r.check...), "param")}
	} else if with := useContent.Attributes["with"]; with != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "with needs use",
			Detail:  fmt.Sprintf("Step %q gives params (with) but uses no step_template; add use = step_template.NAME.", s.Name),
			Subject: with.NameRange.Ptr()})
	}
	return blocks, rt, diags, true
}

// decodeBlocks decodes the step's blocks (its own and its template's), one
// of each type but assert, and counts its requests.
func (s *Step) decodeBlocks(blocks []sourced, r, rt roots) (requests int, diags hcl.Diagnostics) {
	seen := map[string]*hcl.Block{}
	for _, sb := range blocks {
		b, dc, r := sb.block, sb.dc, r
		if dc.InTemplate() != nil {
			r = rt
		}
		if b.Type != "assert" {
			if prev, dup := seen[b.Type]; dup {
				diags = append(diags, config.DuplicateBlock(fmt.Sprintf("Step %q", s.Name), b, prev))
				continue
			}
			seen[b.Type] = b
		}
		var d hcl.Diagnostics
		switch b.Type {
		case "http":
			requests++
			s.HTTP, d = decodeHTTP(b, dc, r)
		case "sql":
			requests++
			s.SQL, d = decodeSQL(b, dc, r)
		case "tcp":
			requests++
			s.TCP, d = decodeTCP(b, dc, r)
		case "expect":
			s.Expect, d = decodeExpect(b, dc, r)
		case "assert":
			var a *Assert
			a, d = decodeAssert(b, dc, r)
			if a != nil {
				s.Asserts = append(s.Asserts, a)
			}
		case "capture":
			s.Captures, d = decodeCapture(b, dc, r)
		case "eventually":
			s.Eventually, d = decodeEventually(b, dc)
		}
		diags = append(diags, dc.NoteUse(d)...)
	}
	return requests, diags
}

// checkShape refuses a step with more than one request, one with neither a
// request nor an assert, and row_count on a step that is not sql.
func (s *Step) checkShape(block *hcl.Block, requests, asserts int) hcl.Diagnostics {
	var diags hcl.Diagnostics
	switch {
	case requests > 1:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Step needs one request",
			Detail:   fmt.Sprintf("Step %q must have exactly one of an http, sql or tcp block; it has %d.", s.Name, requests),
			Subject:  block.DefRange.Ptr(),
		})
	case requests == 0 && (asserts == 0 || s.Expect != nil || s.Eventually != nil):
		detail := fmt.Sprintf("Step %q has no http, sql or tcp block. A step sends one request, or, without a request, only checks values the case already has (captures, each) with assert blocks.", s.Name)
		if s.Expect != nil || s.Eventually != nil {
			detail += " expect and eventually need a request to check or repeat."
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Step needs a request or an assert", Detail: detail, Subject: block.DefRange.Ptr()})
	}
	if s.Expect != nil && s.Expect.RowCount != nil && s.SQL == nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "row_count needs a sql step",
			Detail: "expect.row_count checks the rows of a sql step; this step has none.", Subject: s.Expect.RowCount.Range().Ptr()})
	}
	return diags
}

// sourced is a block of a step and the context it is decoded in: the
// blocks of a step_template's body know its params.
type sourced struct {
	block *hcl.Block
	dc    *config.DecodeContext
}

// HasRequest reports whether the step sends a request (a step may only
// assert on values the case already has).
func (s *Step) HasRequest() bool { return s.HTTP != nil || s.SQL != nil || s.TCP != nil }

// referencedRoots returns the root names the expressions of a step block
// refer to, or nil when the body is not native syntax.
func referencedRoots(body hcl.Body) map[string]bool {
	sb, ok := body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	roots := map[string]bool{}
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for _, a := range b.Attributes {
			for _, tr := range a.Expr.Variables() {
				roots[tr.RootName()] = true
			}
		}
		for _, blk := range b.Blocks {
			walk(blk.Body)
		}
	}
	walk(sb)
	return roots
}

var assertSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "condition", Required: true}, {Name: "error_message", Required: true},
}}

// lateAttrs returns a getter of the attributes of content that are
// evaluated at run time: each is checked against the allowed roots now,
// with its problems added to diags, and kept as an expression (nil when
// absent).
func lateAttrs(content *hcl.BodyContent, dc *config.DecodeContext, allowed []string, diags *hcl.Diagnostics) func(string) hcl.Expression {
	return func(name string) hcl.Expression {
		a, ok := content.Attributes[name]
		if !ok {
			return nil
		}
		e, d := dc.Late(a.Expr, allowed...)
		*diags = append(*diags, d...)
		return e
	}
}

func decodeAssert(b *hcl.Block, dc *config.DecodeContext, r roots) (*Assert, hcl.Diagnostics) {
	content, diags := b.Body.Content(assertSchema)
	a := &Assert{DeclRange: b.DefRange}
	if attr, ok := content.Attributes["condition"]; ok {
		var d hcl.Diagnostics
		a.Condition, d = dc.Late(attr.Expr, r.check...)
		diags = append(diags, d...)
	}
	if attr, ok := content.Attributes["error_message"]; ok {
		var d hcl.Diagnostics
		if runTime(attr.Expr) {
			a.Message, d = dc.Late(attr.Expr, r.check...)
			a.ErrorMessage = sourceText(attr.Expr, dc.Config())
		} else {
			a.ErrorMessage, d = dc.String(attr)
		}
		diags = append(diags, d...)
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return a, diags
}

// runTime reports whether expr refers to a value known only during the run
// (anything but var, local and target).
func runTime(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		switch tr.RootName() {
		case "var", "local", "target":
		default:
			return true
		}
	}
	return false
}

// sourceText is the text of expr as written, without the quotes of a
// template ("balance ${capture.x}" gives balance ${capture.x}).
func sourceText(expr hcl.Expression, cfg *config.Config) string {
	rng := expr.Range()
	f := cfg.Files[rng.Filename]
	if f == nil {
		return rng.String()
	}
	t := string(rng.SliceBytes(f.Bytes))
	if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
		t = t[1 : len(t)-1]
	}
	return t
}

func decodeCapture(b *hcl.Block, dc *config.DecodeContext, r roots) ([]Capture, hcl.Diagnostics) {
	attrs, diags := b.Body.JustAttributes()
	var out []Capture
	for _, a := range config.SortedAttrs(attrs) {
		expr, d := dc.Late(a.Expr, r.check...)
		diags = append(diags, d...)
		c := Capture{Name: a.Name, Expr: expr, Sensitive: captureIsSensitive(a.Name, a.Expr, dc)}
		if !c.Sensitive {
			for _, tr := range expr.Variables() {
				switch tr.RootName() {
				case "capture", "param", "each", "feed":
					c.late = append(c.late, tr)
				}
			}
		}
		out = append(out, c)
	}
	return out, diags
}

var eventuallySchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "within", Required: true}, {Name: "every"}}}

func decodeEventually(b *hcl.Block, dc *config.DecodeContext) (*Eventually, hcl.Diagnostics) {
	content, diags := b.Body.Content(eventuallySchema)
	e := &Eventually{Every: time.Second}
	if a, ok := content.Attributes["within"]; ok {
		d, dd := dc.Duration(a)
		diags = append(diags, dd...)
		e.Within = d
	}
	if a, ok := content.Attributes["every"]; ok {
		d, dd := dc.Duration(a)
		diags = append(diags, dd...)
		e.Every = d
		if dd == nil && d <= 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: "eventually.every must be longer than zero.", Subject: a.Expr.Range().Ptr()})
		}
	}
	return e, diags
}

// compile compiles a regular expression, as a diagnostic when it is not one.
func compile(pattern string, rng hcl.Range, what string) (*regexp.Regexp, *hcl.Diagnostic) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid regular expression",
			Detail: fmt.Sprintf("%s: %v", what, err), Subject: rng.Ptr()}
	}
	return re, nil
}
