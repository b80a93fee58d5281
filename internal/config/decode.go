package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// DecodeContext is handed to every block decoder: it evaluates attributes
// against what is known at load time and turns every problem into a
// diagnostic that names the attribute and its source range.
type DecodeContext struct {
	cfg *Config
	// targetRefs collects the targets referenced while a suite is decoded,
	// so that the runner starts them even when the suite's own target is
	// another one (or none).
	targetRefs map[string]bool
	// params are the arguments of a step_template's use, while its body
	// is decoded for that use (template.go).
	params *paramScope
}

// Config returns the configuration being loaded (targets and deployment are
// decoded before any suite).
func (dc *DecodeContext) Config() *Config { return dc.cfg }

// AddSensitive marks values read while decoding (a feed's sensitive
// columns) as secrets: SensitiveValues returns them, so every redactor of
// the run replaces them in every encoding.
func (dc *DecodeContext) AddSensitive(values ...string) {
	for _, v := range values {
		if v != "" {
			dc.cfg.sensitiveData = append(dc.cfg.sensitiveData, v)
		}
	}
}

// Static is the evaluation context of load-time values.
func (dc *DecodeContext) Static() *hcl.EvalContext { return dc.static() }

// Value evaluates attr with load-time values only.
func (dc *DecodeContext) Value(attr *hcl.Attribute) (cty.Value, hcl.Diagnostics) {
	diags := dc.CheckRefs(attr.Expr)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	v, d := attr.Expr.Value(dc.static())
	return v, append(diags, d...)
}

// typed evaluates attr and converts it to want, with a diagnostic that says
// in plain words what was expected and what was found.
func (dc *DecodeContext) typed(attr *hcl.Attribute, want cty.Type, what string) (cty.Value, hcl.Diagnostics) {
	v, diags := dc.Value(attr)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if !v.IsWhollyKnown() {
		return cty.UnknownVal(want), diags
	}
	if v.IsNull() {
		return cty.NilVal, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing value",
			Detail:   fmt.Sprintf("The attribute %q must be %s; it is null.", attr.Name, what),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		return cty.NilVal, append(diags, &hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Wrong type",
			Detail:      fmt.Sprintf("The attribute %q must be %s; found %s.", attr.Name, what, describeType(v.Type())),
			Subject:     attr.Expr.Range().Ptr(),
			Expression:  attr.Expr,
			EvalContext: dc.static(),
		})
	}
	return cv, diags
}

func describeType(t cty.Type) string {
	switch {
	case t == cty.String:
		return "a string"
	case t == cty.Number:
		return "a number"
	case t == cty.Bool:
		return "a boolean"
	case t.IsObjectType() || t.IsMapType():
		return "an object"
	case t.IsTupleType() || t.IsListType() || t.IsSetType():
		return "a list"
	}
	return t.FriendlyName()
}

// String decodes a string attribute.
func (dc *DecodeContext) String(attr *hcl.Attribute) (string, hcl.Diagnostics) {
	v, diags := dc.typed(attr, cty.String, "a string")
	if diags.HasErrors() || !v.IsKnown() {
		return "", diags
	}
	return v.AsString(), diags
}

// OneOf decodes a string attribute that must be one of allowed.
func (dc *DecodeContext) OneOf(attr *hcl.Attribute, allowed ...string) (string, hcl.Diagnostics) {
	s, diags := dc.String(attr)
	if diags.HasErrors() {
		return s, diags
	}
	for _, a := range allowed {
		if s == a {
			return s, diags
		}
	}
	return s, append(diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid value",
		Detail:   fmt.Sprintf("The attribute %q must be one of %s; found %q.", attr.Name, quoteList(allowed), s),
		Subject:  attr.Expr.Range().Ptr(),
	})
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// Bool decodes a boolean attribute.
func (dc *DecodeContext) Bool(attr *hcl.Attribute) (bool, hcl.Diagnostics) {
	v, diags := dc.typed(attr, cty.Bool, "true or false")
	if diags.HasErrors() || !v.IsKnown() {
		return false, diags
	}
	return v.True(), diags
}

// Float decodes a number attribute.
func (dc *DecodeContext) Float(attr *hcl.Attribute) (float64, hcl.Diagnostics) {
	v, diags := dc.typed(attr, cty.Number, "a number")
	if diags.HasErrors() || !v.IsKnown() {
		return 0, diags
	}
	f, _ := v.AsBigFloat().Float64()
	return f, diags
}

// Int decodes a whole-number attribute.
func (dc *DecodeContext) Int(attr *hcl.Attribute) (int, hcl.Diagnostics) {
	v, diags := dc.typed(attr, cty.Number, "a whole number")
	if diags.HasErrors() || !v.IsKnown() {
		return 0, diags
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value",
			Detail:   fmt.Sprintf("The attribute %q must be a whole number; found %s.", attr.Name, bf.Text('g', -1)),
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	i, acc := bf.Int64()
	if acc != big.Exact {
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid value",
			Detail:  fmt.Sprintf("The attribute %q is too large.", attr.Name),
			Subject: attr.Expr.Range().Ptr(),
		})
	}
	return int(i), diags
}

// Strings decodes a list of strings.
func (dc *DecodeContext) Strings(attr *hcl.Attribute) ([]string, hcl.Diagnostics) {
	v, diags := dc.typed(attr, cty.List(cty.String), "a list of strings")
	if diags.HasErrors() || !v.IsKnown() {
		return nil, diags
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			return nil, append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Missing value",
				Detail:  fmt.Sprintf("The list %q contains a null element.", attr.Name),
				Subject: attr.Expr.Range().Ptr(),
			})
		}
		out = append(out, e.AsString())
	}
	return out, diags
}

// StringMap decodes an object whose values are strings.
func (dc *DecodeContext) StringMap(attr *hcl.Attribute) (map[string]string, hcl.Diagnostics) {
	v, diags := dc.typed(attr, cty.Map(cty.String), "an object of strings, such as { name = \"value\" }")
	if diags.HasErrors() || !v.IsKnown() {
		return nil, diags
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() {
			continue
		}
		out[k.AsString()] = e.AsString()
	}
	return out, diags
}

// Duration decodes a duration such as "250ms", "30s", "2m", "1h30m" or "2d".
func (dc *DecodeContext) Duration(attr *hcl.Attribute) (time.Duration, hcl.Diagnostics) {
	v, diags := dc.typed(attr, cty.String, "a string")
	if diags.HasErrors() || !v.IsKnown() {
		// Unknown: a param whose argument was already reported.
		return 0, diags
	}
	s := v.AsString()
	d, err := ParseDuration(s)
	if err != nil {
		detail := fmt.Sprintf("The attribute %q must be a duration such as \"250ms\", \"30s\", \"2m\" or \"1h30m\"; found %q.", attr.Name, s)
		switch {
		case errors.Is(err, ErrNegativeDuration):
			detail = fmt.Sprintf("The attribute %q must not be negative; found %q.", attr.Name, s)
		case errors.Is(err, ErrDurationTooLong):
			detail = fmt.Sprintf("The attribute %q is longer than cloudtest can count (at most %dd, about 292 years); found %q.", attr.Name, maxDays, s)
		}
		return 0, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid duration",
			Detail:   detail,
			Subject:  attr.Expr.Range().Ptr(),
		})
	}
	return d, diags
}

// Why ParseDuration refused a duration that is well written.
var (
	ErrNegativeDuration = errors.New("a duration must not be negative")
	ErrDurationTooLong  = errors.New("the duration is longer than about 292 years (a time.Duration overflows)")
)

// maxDays is the most whole days a time.Duration holds.
const maxDays = int64(math.MaxInt64 / int64(24*time.Hour))

// wellFormed is the syntax time.ParseDuration accepts, without its sign:
// a string of this form that it refuses has overflowed.
var wellFormed = regexp.MustCompile(`^((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$`)

// ParseDuration is time.ParseDuration that also accepts whole days ("2d")
// and refuses negative durations and durations too long to count (which
// time.Duration arithmetic would wrap around: "213504d" is not 25 minutes).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	unsigned := strings.TrimPrefix(s, "+")
	if strings.HasPrefix(unsigned, "-") {
		if d, err := time.ParseDuration(unsigned); err == nil && d == 0 {
			return 0, nil // "-0s" is zero
		}
		return 0, fmt.Errorf("%q: %w", s, ErrNegativeDuration)
	}
	if days, ok := strings.CutSuffix(unsigned, "d"); ok {
		if days == "" || strings.TrimLeft(days, "0123456789") != "" {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n > maxDays {
			return 0, fmt.Errorf("%q: %w", s, ErrDurationTooLong)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(unsigned)
	if err != nil {
		if wellFormed.MatchString(unsigned) {
			return 0, fmt.Errorf("%q: %w", s, ErrDurationTooLong)
		}
		return 0, err
	}
	return d, nil
}

// Late checks the references of an expression that is evaluated during the
// run and returns it unevaluated. runtime names the roots the run provides
// (for example "response" and "capture"). When the expression uses only
// load-time values it is evaluated once now so that a type error or a call to
// a missing function is reported before anything runs.
func (dc *DecodeContext) Late(expr hcl.Expression, runtime ...string) (hcl.Expression, hcl.Diagnostics) {
	diags := dc.CheckRefs(expr, runtime...)
	if diags.HasErrors() {
		return expr, diags
	}
	if len(expr.Variables()) == 0 || onlyStatic(expr) || dc.params != nil && staticOrParam(expr) {
		_, d := expr.Value(dc.static())
		diags = append(diags, d...)
	}
	return expr, diags
}

// staticOrParam reports whether expr uses only load-time values and
// params: in a step_template's body the params given run-time values are
// unknown at load time, which still lets a type error show.
func staticOrParam(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		switch tr.RootName() {
		case "var", "local", "target", "param":
		default:
			return false
		}
	}
	return true
}

func onlyStatic(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		switch tr.RootName() {
		case "var", "local", "target":
		default:
			return false
		}
	}
	return true
}

// CheckRefs reports references to undeclared variables, locals and targets,
// to run-time values where none are available, and calls to functions
// that do not exist. runtime lists the extra
// root names the caller provides at run time.
func (dc *DecodeContext) CheckRefs(expr hcl.Expression, runtime ...string) hcl.Diagnostics {
	diags := dc.unknownFunctions(expr)
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		rng := tr.SourceRange()
		switch root {
		case "var":
			if d := checkName(tr, dc.cfg.Variables, "a variable", "var.base_url"); d != nil {
				diags = append(diags, d)
			}
		case "local":
			if d := checkName(tr, dc.cfg.Locals, "a local value", "local.token"); d != nil {
				diags = append(diags, d)
			}
		case "target":
			name, ok := refName(tr)
			if !ok {
				diags = append(diags, badRef(rng, "A reference to a target needs a name, such as target.cloud."))
			} else if _, found := dc.cfg.Targets[name]; !found {
				diags = append(diags, undefinedTarget(rng, name, dc.cfg))
			} else if dc.targetRefs != nil {
				dc.targetRefs[name] = true
			}
		case "param":
			if d := dc.checkParamRef(tr, runtime); d != nil {
				diags = append(diags, d)
			}
		default:
			if !slices.Contains(runtime, root) {
				detail := fmt.Sprintf("%q is not known here.", root)
				if len(runtime) > 0 {
					detail += fmt.Sprintf(" This expression may use %s.", andList(append([]string{"var", "local", "target"}, runtime...)))
				} else {
					detail += " This value is needed before the run starts: it may use var, local and target only."
				}
				diags = append(diags, badRef(rng, detail))
			}
		}
	}
	return diags
}

// checkName refuses a reference to what (a variable: var.NAME) without a
// name, or with a name that declared does not hold.
func checkName[V any](tr hcl.Traversal, declared map[string]V, what, example string) *hcl.Diagnostic {
	name, ok := refName(tr)
	if !ok {
		return badRef(tr.SourceRange(), fmt.Sprintf("A reference to %s needs a name, such as %s.", what, example))
	}
	if _, found := declared[name]; !found {
		return badRef(tr.SourceRange(), fmt.Sprintf("There is no %s named %q.%s", strings.TrimPrefix(strings.TrimPrefix(what, "a "), "an "), name, Suggest(name, slices.Sorted(maps.Keys(declared)))))
	}
	return nil
}

// refName is the name a reference gives after its root (var.NAME or
// var["NAME"]); ok is false when it gives none.
func refName(tr hcl.Traversal) (string, bool) {
	if len(tr) < 2 {
		return "", false
	}
	switch s := tr[1].(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func badRef(rng hcl.Range, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Reference to an unknown value", Detail: detail, Subject: rng.Ptr()}
}

func undefinedTarget(rng hcl.Range, name string, cfg *Config) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Target not defined",
		Detail:   fmt.Sprintf("No target %q is defined; add a block target %q { url = \"...\" }.%s", name, name, Suggest(name, slices.Sorted(maps.Keys(cfg.Targets)))),
		Subject:  rng.Ptr(),
	}
}

// TargetRef decodes an attribute of the form target.NAME.
func (dc *DecodeContext) TargetRef(attr *hcl.Attribute) (string, hcl.Diagnostics) {
	tr, d := hcl.AbsTraversalForExpr(attr.Expr)
	if d.HasErrors() || tr.RootName() != "target" || len(tr) != 2 {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid target reference",
			Detail:   fmt.Sprintf("The attribute %q must name a target, such as target.cloud.", attr.Name),
			Subject:  attr.Expr.Range().Ptr(),
		}}
	}
	step, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return "", hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid target reference",
			Detail: "Write the target as target.NAME.", Subject: attr.Expr.Range().Ptr()}}
	}
	if _, found := dc.cfg.Targets[step.Name]; !found {
		return step.Name, hcl.Diagnostics{undefinedTarget(attr.Expr.Range(), step.Name, dc.cfg)}
	}
	if dc.targetRefs != nil {
		dc.targetRefs[step.Name] = true
	}
	return step.Name, nil
}

// DuplicateBlock returns a diagnostic for block b, of a type owner (such as
// `Step "login"`) may have once, when prev is the first.
func DuplicateBlock(owner string, b, prev *hcl.Block) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + b.Type + " block",
		Detail:  fmt.Sprintf("%s already has a %s block at %s.", owner, b.Type, Location(prev.DefRange)),
		Subject: b.DefRange.Ptr()}
}

// Required returns a diagnostic for a missing required attribute of block.
func Required(block *hcl.Block, name, example string) *hcl.Diagnostic {
	what := block.Type
	if len(block.Labels) > 0 {
		what = fmt.Sprintf("%s %q", block.Type, block.Labels[0])
	}
	detail := fmt.Sprintf("The block %s needs the attribute %q.", what, name)
	if example != "" {
		detail += " For example: " + example
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required attribute", Detail: detail, Subject: block.DefRange.Ptr()}
}

// Suggest returns " Did you mean "x"?" when a known name is close to name.
func Suggest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := levenshtein.Distance(name, k, nil); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

func stringOf(v cty.Value) (string, bool) {
	if v.IsNull() || !v.IsKnown() {
		return "", false
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", false
	}
	return sv.AsString(), true
}
