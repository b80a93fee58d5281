package config

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

func decodeVariables(cfg *Config, blocks []*hcl.Block) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range blocks {
		v := &Variable{Name: b.Labels[0], Type: cty.DynamicPseudoType, Default: cty.NilVal, DeclRange: b.DefRange}
		if !hclsyntax.ValidIdentifier(v.Name) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid variable name",
				Detail:  fmt.Sprintf("%q is not a valid name: use letters, digits, underscores and dashes, starting with a letter.", v.Name),
				Subject: b.LabelRanges[0].Ptr()})
			continue
		}
		if prev, dup := cfg.Variables[v.Name]; dup {
			diags = append(diags, duplicate("variable", v.Name, b.DefRange, prev.DeclRange))
			continue
		}
		content, d := b.Body.Content(variableSchema)
		diags = append(diags, d...)
		if a, ok := content.Attributes["type"]; ok {
			ty, d := typeexpr.TypeConstraint(a.Expr)
			diags = append(diags, d...)
			if !d.HasErrors() {
				v.Type = ty
			}
		}
		if a, ok := content.Attributes["description"]; ok {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if s, ok := stringOf(val); ok {
				v.Description = s
			}
		}
		if a, ok := content.Attributes["sensitive"]; ok {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				if bv, err := convert.Convert(val, cty.Bool); err != nil || bv.IsNull() {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Wrong type",
						Detail: "The attribute \"sensitive\" must be true or false.", Subject: a.Expr.Range().Ptr()})
				} else {
					v.Sensitive = bv.True()
				}
			}
		}
		if a, ok := content.Attributes["default"]; ok {
			val, d := a.Expr.Value(nil)
			diags = append(diags, d...)
			if !d.HasErrors() {
				cv, err := convert.Convert(val, v.Type)
				if err != nil {
					diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Wrong type",
						Detail:  fmt.Sprintf("The default of variable %q must be %s: %s.", v.Name, v.Type.FriendlyName(), err),
						Subject: a.Expr.Range().Ptr()})
				} else {
					v.Default, v.Value, v.Source = cv, cv, "default"
				}
			}
		}
		cfg.Variables[v.Name] = v
	}
	return diags
}

// assignVariables gives variables their values: defaults, then
// CLOUDTEST_VAR_NAME from the environment, then -var-file files, then -var
// options, each later source overriding the earlier ones.
func assignVariables(cfg *Config, parser *hclparse.Parser, opts Options) hcl.Diagnostics {
	var diags hcl.Diagnostics
	env := append([]string(nil), opts.Environ...)
	sort.Strings(env)
	for _, kv := range env {
		if !strings.HasPrefix(kv, envVarPrefix) {
			continue
		}
		name, raw, _ := strings.Cut(strings.TrimPrefix(kv, envVarPrefix), "=")
		v, ok := cfg.Variables[name]
		if !ok {
			// The environment is shared with other tools: ignore unknown names.
			continue
		}
		diags = append(diags, setRaw(v, raw, envVarPrefix+name)...)
	}
	for _, path := range opts.VarFiles {
		diags = append(diags, cfg.assignVarFile(parser, path)...)
	}
	for _, opt := range opts.Vars {
		name, raw, ok := strings.Cut(opt, "=")
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid -var option",
				Detail: fmt.Sprintf("-var %q must be written NAME=VALUE.", opt)})
			continue
		}
		v, found := cfg.Variables[name]
		if !found {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Undeclared variable",
				Detail: fmt.Sprintf("-var sets %q, but no variable block declares it.%s", name, Suggest(name, slices.Sorted(maps.Keys(cfg.Variables))))})
			continue
		}
		diags = append(diags, setRaw(v, raw, "-var")...)
	}
	diags = append(diags, cfg.checkAssigned()...)
	return diags
}

// assignVarFile sets the variables a -var-file gives; the values of
// sensitive ones are masked in the file's source once they are read.
func (cfg *Config) assignVarFile(parser *hclparse.Parser, path string) hcl.Diagnostics {
	file, diags := parseSource(parser, path)
	if file == nil || diags.HasErrors() {
		return diags
	}
	cfg.Files[path] = file
	attrs, d := file.Body.JustAttributes()
	diags = append(diags, d...)
	for _, a := range SortedAttrs(attrs) {
		v, ok := cfg.Variables[a.Name]
		if ok && v.Sensitive {
			// Evaluated from the AST; the bytes are only what a
			// diagnostic's snippet shows.
			defer maskSource(file, a.Expr.Range())
		}
		if !ok {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Undeclared variable",
				Detail:  fmt.Sprintf("The file sets %q, but no variable block declares it.%s", a.Name, Suggest(a.Name, slices.Sorted(maps.Keys(cfg.Variables)))),
				Subject: a.NameRange.Ptr()})
			continue
		}
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		cv, err := convert.Convert(val, v.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Wrong type",
				Detail:  fmt.Sprintf("Variable %q must be %s: %s.", v.Name, v.Type.FriendlyName(), err),
				Subject: a.Expr.Range().Ptr()})
			continue
		}
		v.Value, v.Source = cv, "-var-file "+path
	}
	return diags
}

// checkAssigned refuses every variable that still has no value (it is then
// unknown, so that the rest of the load goes on).
func (cfg *Config) checkAssigned() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range slices.Sorted(maps.Keys(cfg.Variables)) {
		v := cfg.Variables[name]
		if v.Value == cty.NilVal {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Variable has no value",
				Detail:  fmt.Sprintf("Variable %q has no default; set it with -var %s=..., a -var-file or the environment variable %s%s.", name, name, envVarPrefix, name),
				Subject: v.DeclRange.Ptr()})
			v.Value = cty.UnknownVal(v.Type)
		}
	}
	return diags
}

// setRaw sets a variable from a command-line or environment string: taken
// as is for string variables, parsed as an HCL value otherwise.
func setRaw(v *Variable, raw, source string) hcl.Diagnostics {
	if v.Type == cty.String || v.Type == cty.DynamicPseudoType {
		v.Value, v.Source = cty.StringVal(raw), source
		return nil
	}
	diags := parseRaw(v, raw, source)
	if v.Sensitive {
		// The value that could not be used is not shown: it is a secret
		// all the same.
		for _, d := range diags {
			d.Detail = strings.ReplaceAll(d.Detail, fmt.Sprintf("%q", raw), sensitivePlaceholder)
			if len(raw) >= minRedacted {
				d.Detail = strings.ReplaceAll(d.Detail, raw, sensitivePlaceholder)
			}
		}
	}
	return diags
}

// parseRaw sets a variable of another type than string from raw.
func parseRaw(v *Variable, raw, source string) hcl.Diagnostics {
	if d := checkNesting([]byte(raw), source, MaxNesting); d != nil {
		d.Subject = nil // the value is not in a file
		d.Detail = fmt.Sprintf("%s sets %q to a value nested more than %d deep; cloudtest refuses it rather than risk exhausting the parser.", source, v.Name, MaxNesting)
		return hcl.Diagnostics{d}
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), source, hcl.InitialPos)
	if diags.HasErrors() {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail: fmt.Sprintf("%s sets %q to %q, which is not a valid %s.", source, v.Name, raw, v.Type.FriendlyName())}}
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail: fmt.Sprintf("%s sets %q to %q, which must be a literal value.", source, v.Name, raw)}}
	}
	cv, err := convert.Convert(val, v.Type)
	if err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value for variable",
			Detail: fmt.Sprintf("%s sets %q to %q: %s.", source, v.Name, raw, err)}}
	}
	v.Value, v.Source = cv, source
	return nil
}

// SortedAttrs returns attributes in source order (hcl.Attributes is a map),
// so that diagnostics and captures come in the order they were written.
func SortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].NameRange, out[j].NameRange
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
	return out
}

// decodeLocals evaluates locals in the order of their references to each
// other, and reports a cycle as a diagnostic naming every local in it.
func decodeLocals(cfg *Config, blocks []*hcl.Block) hcl.Diagnostics {
	all, order, diags := collectLocals(blocks)
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	failed := map[string]bool{}
	dc := &DecodeContext{cfg: cfg}
	var visit func(a *hcl.Attribute, path []string) bool
	visit = func(a *hcl.Attribute, path []string) bool {
		switch state[a.Name] {
		case done:
			return !failed[a.Name]
		case visiting:
			cycle := append(path[indexOf(path, a.Name):], a.Name)
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cycle in locals",
				Detail:  fmt.Sprintf("These local values refer to each other in a circle: %s.", strings.Join(cycle, " → ")),
				Subject: a.Expr.Range().Ptr()})
			return false
		}
		state[a.Name] = visiting
		ok := true
		for _, dep := range localDeps(a) {
			if da, found := all[dep]; found {
				if !visit(da, append(path, a.Name)) {
					ok = false
				}
			}
		}
		state[a.Name] = done
		if !ok {
			failed[a.Name] = true
			cfg.Locals[a.Name] = cty.DynamicVal
			cfg.refreshStatic()
			return false
		}
		d := cfg.setLocal(dc, a)
		diags = append(diags, d...)
		failed[a.Name] = d.HasErrors()
		return !failed[a.Name]
	}
	for _, a := range order {
		visit(a, nil)
	}
	return diags
}

// collectLocals gathers the attributes of every locals block, in the order
// they are written, refusing a name given twice.
func collectLocals(blocks []*hcl.Block) (map[string]*hcl.Attribute, []*hcl.Attribute, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	all := map[string]*hcl.Attribute{}
	var order []*hcl.Attribute
	for _, b := range blocks {
		attrs, d := b.Body.JustAttributes()
		diags = append(diags, d...)
		for _, a := range SortedAttrs(attrs) {
			if prev, dup := all[a.Name]; dup {
				diags = append(diags, duplicate("local value", a.Name, a.NameRange, prev.NameRange))
				continue
			}
			all[a.Name] = a
			order = append(order, a)
		}
	}
	return all, order, diags
}

// localDeps are the local values a's expression refers to.
func localDeps(a *hcl.Attribute) []string {
	var out []string
	for _, tr := range a.Expr.Variables() {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		if s, ok := tr[1].(hcl.TraverseAttr); ok {
			out = append(out, s.Name)
		}
	}
	return out
}

// setLocal evaluates local value a (unknown when it cannot be) and notes
// whether it is sensitive.
func (cfg *Config) setLocal(dc *DecodeContext, a *hcl.Attribute) hcl.Diagnostics {
	val, diags := dc.Value(a)
	if diags.HasErrors() {
		val = cty.DynamicVal
	}
	cfg.Locals[a.Name] = val
	if cfg.IsSensitive(a.Expr) {
		if cfg.sensitiveLocals == nil {
			cfg.sensitiveLocals, cfg.wholeSensitive = map[string]bool{}, map[string]bool{}
		}
		cfg.sensitiveLocals[a.Name] = true
		cfg.wholeSensitive[a.Name] = CallsSensitive(a.Expr)
	}
	cfg.refreshStatic()
	return diags
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return 0
}
