package config

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// A step_template is a step written once with named parameters, which
// steps of any suite use with their own arguments:
//
//	step_template "login" {
//	  param "user" {}
//	  param "password" { sensitive = true }
//	  http { … json = { user = param.user, password = param.password } }
//	}
//	step "login" {
//	  use  = step_template.login
//	  with = { user = "alice", password = var.password }
//	}
//
// It is Terraform's module call made small: the parameters are declared
// like variables, the arguments are expressions of the using step (so a
// data-driven case passes each.value, a journey feed.user), and param is
// one more root of the template's evaluation context, never text pasted
// into it. Config keeps the template's body; internal/step decodes it once
// per use, with a DecodeContext whose param values are the use's.

// StepTemplate is a step_template block.
type StepTemplate struct {
	Name   string
	Params []*Param
	// Body is the template's step blocks (http, expect, capture…).
	Body      hcl.Body
	DeclRange hcl.Range
	// Range is the whole block, so that a run-time failure of a check
	// written inside it can name the step that used it (Within).
	Range hcl.Range
	// Uses counts the steps that use it.
	Uses int
}

// Param is a param block of a step_template.
type Param struct {
	Name, Description string
	Type              cty.Type
	// Default is the value when a use gives none (cty.NilVal: required).
	Default   cty.Value
	Sensitive bool
	DeclRange hcl.Range
}

// Within reports whether loc, a Location (FILE:LINE), is inside the
// template's block.
func (t *StepTemplate) Within(loc string) bool {
	i := strings.LastIndexByte(loc, ':')
	if i < 0 || loc[:i] != t.Range.Filename {
		return false
	}
	line, err := strconv.Atoi(loc[i+1:])
	return err == nil && line >= t.Range.Start.Line && line <= t.Range.End.Line
}

var templateSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "param", LabelNames: []string{"name"}}}}

func (cfg *Config) decodeStepTemplates(blocks []*hcl.Block, dc *DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range blocks {
		t := &StepTemplate{Name: b.Labels[0], DeclRange: b.DefRange, Range: b.DefRange}
		if sb, ok := b.Body.(*hclsyntax.Body); ok {
			t.Range = hcl.RangeBetween(b.DefRange, sb.SrcRange)
		}
		if prev, dup := cfg.StepTemplates[t.Name]; dup {
			diags = append(diags, duplicate("step_template", t.Name, b.DefRange, prev.DeclRange))
			continue
		}
		content, rest, d := b.Body.PartialContent(templateSchema)
		diags = append(diags, d...)
		t.Body = rest
		for _, pb := range content.Blocks {
			p, d := decodeParam(pb, dc)
			diags = append(diags, d...)
			if p == nil {
				continue
			}
			if prev := t.param(p.Name); prev != nil {
				diags = append(diags, duplicate("param", p.Name, pb.DefRange, prev.DeclRange))
				continue
			}
			t.Params = append(t.Params, p)
		}
		cfg.StepTemplates[t.Name] = t
	}
	return diags
}

func (t *StepTemplate) param(name string) *Param {
	for _, p := range t.Params {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (t *StepTemplate) paramNames() []string {
	names := make([]string, len(t.Params))
	for i, p := range t.Params {
		names[i] = p.Name
	}
	return names
}

func decodeParam(b *hcl.Block, dc *DecodeContext) (*Param, hcl.Diagnostics) {
	p := &Param{Name: b.Labels[0], Type: cty.DynamicPseudoType, Default: cty.NilVal, DeclRange: b.DefRange}
	if !hclsyntax.ValidIdentifier(p.Name) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid param name",
			Detail:  fmt.Sprintf("%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", p.Name),
			Subject: b.LabelRanges[0].Ptr()}}
	}
	content, diags := b.Body.Content(variableSchema)
	if a, ok := content.Attributes["type"]; ok {
		ty, d := typeexpr.TypeConstraint(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			p.Type = ty
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		s, d := dc.String(a)
		diags = append(diags, d...)
		p.Description = s
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		v, d := dc.Bool(a)
		diags = append(diags, d...)
		p.Sensitive = v
	}
	if a, ok := content.Attributes["default"]; ok {
		v, d := dc.Value(a)
		diags = append(diags, d...)
		if !d.HasErrors() {
			cv, err := convert.Convert(v, p.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Wrong type",
					Detail:  fmt.Sprintf("The default of param %q must be %s: %s.", p.Name, p.Type.FriendlyName(), err),
					Subject: a.Expr.Range().Ptr()})
			} else {
				p.Default = cv
				if p.Sensitive || dc.cfg.IsSensitive(a.Expr) {
					dc.AddSensitive(sensitiveStrings(cv, true)...)
				}
			}
		}
	}
	return p, diags
}

// ParamArgs are the arguments a step gives a step_template's params.
type ParamArgs struct {
	Template *StepTemplate
	// Known are the values known at load time (literals, var, local,
	// defaults); Late the arguments that use run-time values (each,
	// capture, feed), evaluated by Value each time the step runs.
	Known map[string]cty.Value
	Late  map[string]hcl.Expression
	// Sensitive are the params whose value is a secret: declared
	// sensitive, or given a sensitive variable or local or sensitive().
	Sensitive map[string]bool
	// constant is the param object when no argument is late (a load
	// builds it once, not per request).
	constant cty.Value
}

// Value is the param object for a run of the step, evaluated in ctx (the
// step's run-time context), and the strings of its sensitive params: those
// of Sensitive and the late ones secret says are secrets in this run (given
// each.value of a secret for_each or a sensitive capture).
func (p *ParamArgs) Value(ctx *hcl.EvalContext, secret func(name string) bool) (cty.Value, []string, hcl.Diagnostics) {
	if p.constant != cty.NilVal {
		return p.constant, nil, nil
	}
	vals := make(map[string]cty.Value, len(p.Known)+len(p.Late))
	maps.Copy(vals, p.Known)
	var diags hcl.Diagnostics
	var secrets []string
	for _, name := range slices.Sorted(maps.Keys(p.Late)) {
		expr := p.Late[name]
		v, d := expr.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		param := p.Template.param(name)
		cv, err := convert.Convert(v, param.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Wrong type",
				Detail:  fmt.Sprintf("param %q of step_template %q (at %s) must be %s; found %s.", name, p.Template.Name, Location(param.DeclRange), param.Type.FriendlyName(), describeType(v.Type())),
				Subject: expr.Range().Ptr(), Expression: expr, EvalContext: ctx})
			continue
		}
		vals[name] = cv
		if p.Sensitive[name] || secret != nil && secret(name) {
			secrets = append(secrets, sensitiveStrings(cv, true)...)
		}
	}
	if diags.HasErrors() {
		return cty.DynamicVal, secrets, diags
	}
	return cty.ObjectVal(vals), secrets, diags
}

// paramScope is what a DecodeContext knows of the params while the body
// of a step_template is decoded for one use.
type paramScope struct {
	args     *ParamArgs
	useStep  string
	useRange hcl.Range
	static   *hcl.EvalContext
}

var useSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "use"}, {Name: "with"}}}

// UseSchema holds the attributes by which a step uses a step_template.
func UseSchema() *hcl.BodySchema { return useSchema }

// UseTemplate resolves the use and with attributes of the step block
// (use is set): the template, the arguments, and the DecodeContext in
// which the template's body is decoded for this use (param is known
// there: the values known at load time, unknown for the others, so that
// load-time checks still run). runtime are the roots with may use (the
// step's request roots). Diagnostics about the arguments point at the use
// and name the template's location.
func (dc *DecodeContext) UseTemplate(block *hcl.Block, use, with *hcl.Attribute, runtime []string) (*StepTemplate, *DecodeContext, *ParamArgs, hcl.Diagnostics) {
	if dc.params != nil {
		return nil, nil, nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "A step_template cannot use another",
			Detail: fmt.Sprintf("step_template %q uses another step_template; write the steps one after the other instead.", dc.params.args.Template.Name), Subject: use.Expr.Range().Ptr()}}
	}
	tpl, diags := dc.templateRef(use)
	if tpl == nil {
		return nil, nil, nil, diags
	}
	tpl.Uses++
	defined := fmt.Sprintf("step_template %q (defined at %s)", tpl.Name, Location(tpl.DeclRange))
	args := &ParamArgs{Template: tpl, Known: map[string]cty.Value{}, Late: map[string]hcl.Expression{}, Sensitive: map[string]bool{}}
	given, d, ok := withArgs(tpl, with, defined)
	diags = append(diags, d...)
	if !ok {
		return nil, nil, nil, diags
	}
	static := map[string]cty.Value{}
	for _, p := range tpl.Params {
		expr, ok := given[p.Name]
		if !ok {
			if p.Default == cty.NilVal {
				subject := block.DefRange
				if with != nil {
					subject = with.Expr.Range()
				}
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing param",
					Detail:  fmt.Sprintf("Step %q uses %s, which needs param %q (declared at %s); add it to with = { … }.", block.Labels[0], defined, p.Name, Location(p.DeclRange)),
					Subject: subject.Ptr()})
				static[p.Name] = cty.UnknownVal(p.Type)
				continue
			}
			args.Known[p.Name], static[p.Name] = p.Default, p.Default
			args.Sensitive[p.Name] = p.Sensitive
			continue
		}
		var d hcl.Diagnostics
		static[p.Name], d = dc.bindArg(p, expr, runtime, defined, args)
		diags = append(diags, d...)
	}
	if len(args.Late) == 0 && !diags.HasErrors() {
		args.constant = cty.ObjectVal(args.Known)
	}
	ctx := dc.cfg.static.NewChild()
	ctx.Variables = map[string]cty.Value{"param": cty.ObjectVal(static)}
	tdc := &DecodeContext{cfg: dc.cfg, targetRefs: dc.targetRefs,
		params: &paramScope{args: args, useStep: block.Labels[0], useRange: block.DefRange, static: ctx}}
	return tpl, tdc, args, diags
}

// withArgs reads the arguments of a use's with = { … } by param name,
// refusing unknown and repeated names; ok is false when with is no object.
func withArgs(tpl *StepTemplate, with *hcl.Attribute, defined string) (given map[string]hcl.Expression, diags hcl.Diagnostics, ok bool) {
	given = map[string]hcl.Expression{}
	if with != nil {
		pairs, d := hcl.ExprMap(with.Expr)
		if d.HasErrors() {
			return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid with",
				Detail:  fmt.Sprintf("with gives the params of %s as an object, such as with = { %s = \"…\" }.", defined, firstOr(tpl.paramNames(), "user")),
				Subject: with.Expr.Range().Ptr()}}, false
		}
		for _, kv := range pairs {
			name := hcl.ExprAsKeyword(kv.Key)
			if name == "" {
				v, d := kv.Key.Value(nil)
				if s, ok := stringOf(v); ok && !d.HasErrors() {
					name = s
				}
			}
			switch {
			case name == "":
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid param name",
					Detail: "A key of with must be a param's name.", Subject: kv.Key.Range().Ptr()})
			case tpl.param(name) == nil:
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown param",
					Detail:  fmt.Sprintf("%s has no param %q; its params are %s.%s", defined, name, paramList(tpl), Suggest(name, tpl.paramNames())),
					Subject: kv.Key.Range().Ptr()})
			case given[name] != nil:
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate param",
					Detail: fmt.Sprintf("with gives param %q twice.", name), Subject: kv.Key.Range().Ptr()})
			default:
				given[name] = kv.Value
			}
		}
	}
	return given, diags, true
}

// bindArg checks the argument of param p and returns its value at load
// (unknown when it is known only at run time: then it is late, in args).
func (dc *DecodeContext) bindArg(p *Param, expr hcl.Expression, runtime []string, defined string, args *ParamArgs) (cty.Value, hcl.Diagnostics) {
	args.Sensitive[p.Name] = p.Sensitive || dc.cfg.IsSensitive(expr)
	d := dc.CheckRefs(expr, runtime...)
	if d.HasErrors() {
		return cty.UnknownVal(p.Type), noteAt(d, "The argument is for "+defined+".")
	}
	if !onlyStatic(expr) {
		args.Late[p.Name] = expr
		return cty.UnknownVal(p.Type), nil
	}
	v, d := expr.Value(dc.cfg.static)
	if d.HasErrors() {
		return cty.UnknownVal(p.Type), d
	}
	cv, err := convert.Convert(v, p.Type)
	if err != nil {
		return cty.UnknownVal(p.Type), hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Wrong type",
			Detail:  fmt.Sprintf("param %q of %s must be %s; found %s.", p.Name, defined, p.Type.FriendlyName(), describeType(v.Type())),
			Subject: expr.Range().Ptr(), Expression: expr, EvalContext: dc.cfg.static}}
	}
	args.Known[p.Name] = cv
	if args.Sensitive[p.Name] {
		// sensitive("…") or a sensitive param given a literal: no
		// variable holds the value, so it joins the redaction set here.
		dc.AddSensitive(sensitiveStrings(cv, true)...)
	}
	return cv, nil
}

func firstOr(names []string, def string) string {
	if len(names) > 0 {
		return names[0]
	}
	return def
}

func paramList(t *StepTemplate) string {
	if len(t.Params) == 0 {
		return "none"
	}
	return andList(quoted(t.paramNames()))
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

func (dc *DecodeContext) templateRef(use *hcl.Attribute) (*StepTemplate, hcl.Diagnostics) {
	names := slices.Sorted(maps.Keys(dc.cfg.StepTemplates))
	tr, d := hcl.AbsTraversalForExpr(use.Expr)
	if d.HasErrors() || tr.RootName() != "step_template" || len(tr) != 2 {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid use",
			Detail: "use names a step_template, such as use = step_template.login.", Subject: use.Expr.Range().Ptr()}}
	}
	a, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid use",
			Detail: "Write the template as step_template.NAME.", Subject: use.Expr.Range().Ptr()}}
	}
	tpl := dc.cfg.StepTemplates[a.Name]
	if tpl == nil {
		detail := fmt.Sprintf("No step_template %q is defined; add a block step_template %q { … } beside the suites.", a.Name, a.Name)
		if len(names) > 0 {
			detail += " Defined: " + strings.Join(names, ", ") + "."
		}
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown step_template",
			Detail: detail + Suggest(a.Name, names), Subject: use.Expr.Range().Ptr()}}
	}
	return tpl, nil
}

// InTemplate is the step_template whose body dc decodes (nil: none).
func (dc *DecodeContext) InTemplate() *StepTemplate {
	if dc.params == nil {
		return nil
	}
	return dc.params.args.Template
}

// NoteUse adds to diagnostics found in a step_template's body the step
// that uses it, so that a message points at both the definition (its
// subject) and the use.
func (dc *DecodeContext) NoteUse(diags hcl.Diagnostics) hcl.Diagnostics {
	if dc.params == nil {
		return diags
	}
	return noteAt(diags, fmt.Sprintf("In step_template %q, used by step %q at %s.", dc.params.args.Template.Name, dc.params.useStep, Location(dc.params.useRange)))
}

func noteAt(diags hcl.Diagnostics, note string) hcl.Diagnostics {
	for _, d := range diags {
		if strings.Contains(d.Detail, note) {
			continue
		}
		if d.Detail == "" {
			d.Detail = note
		} else {
			d.Detail += " " + note
		}
	}
	return diags
}

// IsSensitive is Config.IsSensitive that also knows the params of the
// step_template being decoded: param.password is a secret when the param
// is declared sensitive or was given one.
func (dc *DecodeContext) IsSensitive(expr hcl.Expression) bool {
	if dc.cfg.IsSensitive(expr) {
		return true
	}
	if dc.params == nil {
		return false
	}
	for _, tr := range expr.Variables() {
		if tr.RootName() != "param" || len(tr) < 2 {
			continue
		}
		if a, ok := tr[1].(hcl.TraverseAttr); ok && dc.params.args.Sensitive[a.Name] {
			return true
		}
	}
	return false
}

// checkParamRef checks a reference to param.NAME.
func (dc *DecodeContext) checkParamRef(tr hcl.Traversal, runtime []string) *hcl.Diagnostic {
	rng := tr.SourceRange()
	if dc.params == nil {
		return badRef(rng, "param is known only inside a step_template, where it holds the arguments of the step that uses it.")
	}
	tpl := dc.params.args.Template
	var name string
	if len(tr) >= 2 {
		if a, ok := tr[1].(hcl.TraverseAttr); ok {
			name = a.Name
		}
	}
	if name == "" {
		return badRef(rng, "A reference to a param needs a name, such as param.user.")
	}
	if tpl.param(name) == nil {
		return badRef(rng, fmt.Sprintf("step_template %q declares no param %q; its params are %s.%s", tpl.Name, name, paramList(tpl), Suggest(name, tpl.paramNames())))
	}
	if late, ok := dc.params.args.Late[name]; ok && !slices.Contains(runtime, "param") {
		return badRef(rng, fmt.Sprintf("This value is needed before the run starts, and param %q is given a value known only during the run (at %s).", name, Location(late.Range())))
	}
	return nil
}

// static is the evaluation context of load-time values (with the params
// of a step_template's use).
func (dc *DecodeContext) static() *hcl.EvalContext {
	if dc.params != nil {
		return dc.params.static
	}
	return dc.cfg.static
}

// checkUnusedTemplates looks into the templates no step uses, which are
// otherwise never decoded: a misspelt param or function there is reported
// all the same (the rest of the body is checked by its first use), and
// the template itself is a warning, as dead code is.
func (cfg *Config) checkUnusedTemplates(dc *DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range slices.Sorted(maps.Keys(cfg.StepTemplates)) {
		t := cfg.StepTemplates[name]
		if t.Uses > 0 {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Unused step_template",
			Detail:  fmt.Sprintf("No step uses step_template %q; a step uses it with use = step_template.%s.", t.Name, t.Name),
			Subject: t.DeclRange.Ptr()})
		body, ok := t.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		args := &ParamArgs{Template: t, Late: map[string]hcl.Expression{}}
		tdc := &DecodeContext{cfg: cfg, params: &paramScope{args: args, useStep: "", static: cfg.static}}
		hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			a, ok := n.(*hclsyntax.Attribute)
			if !ok {
				return nil
			}
			diags = append(diags, tdc.unknownFunctions(a.Expr)...)
			for _, tr := range a.Expr.Variables() {
				if tr.RootName() == "param" {
					if d := tdc.checkParamRef(tr, []string{"param"}); d != nil {
						diags = append(diags, d)
					}
				}
			}
			return nil
		})
	}
	return diags
}
