package config

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// sensitiveFunc is sensitive(value): the value unchanged, marked for the
// reader and for cloudtest as a secret. A local or a capture whose
// expression calls it is redacted from every output, as a sensitive
// variable is (Terraform's sensitive() has the same name and sense).
var sensitiveFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true}},
	Type:   func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil },
	Impl:   func(args []cty.Value, _ cty.Type) (cty.Value, error) { return args[0], nil },
})

// CallsSensitive reports whether expr calls sensitive() anywhere.
func CallsSensitive(expr hcl.Expression) bool {
	e, ok := expr.(hclsyntax.Expression)
	if !ok {
		return false
	}
	found := false
	hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
		if c, ok := n.(*hclsyntax.FunctionCallExpr); ok && c.Name == "sensitive" {
			found = true
		}
		return nil
	})
	return found
}

// IsSensitive reports whether the value of expr is a secret: it calls
// sensitive() or refers to a sensitive variable or local.
func (c *Config) IsSensitive(expr hcl.Expression) bool {
	if CallsSensitive(expr) {
		return true
	}
	for _, tr := range expr.Variables() {
		if len(tr) < 2 {
			continue
		}
		a, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		switch tr.RootName() {
		case "var":
			if v := c.Variables[a.Name]; v != nil && v.Sensitive {
				return true
			}
		case "local":
			if c.sensitiveLocals[a.Name] {
				return true
			}
		}
	}
	return false
}

// sensitiveStrings returns the strings of a sensitive value: the value
// itself when it is a string (or a number or bool), every string in it
// when all of it was marked with sensitive(), and nothing otherwise (an
// object that holds a sensitive variable beside "alice" must not make
// "alice" a secret; the variable is redacted on its own).
func sensitiveStrings(v cty.Value, whole bool) []string {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	if s, ok := stringOf(v); ok {
		if s == "" {
			return nil
		}
		return []string{s}
	}
	if !whole || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		out = append(out, sensitiveStrings(e, true)...)
	}
	return out
}

// SensitiveVariable reports whether the variable name is sensitive.
func (c *Config) SensitiveVariable(name string) bool {
	v := c.Variables[name]
	return v != nil && v.Sensitive
}

// SensitiveLocal reports whether the local name is sensitive (refers to a
// sensitive variable or local, or calls sensitive()).
func (c *Config) SensitiveLocal(name string) bool { return c.sensitiveLocals[name] }
