package step

import (
	"slices"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/cloudtest/cloudtest/internal/config"
)

// A value computed from a secret inside a request attribute
// (headers = { X-Up = upper(var.pw) }, path = "/u/${base64encode(var.pw)}")
// is a secret too, as a sensitive local is. The request attributes'
// parts that refer to a sensitive variable or local, to a capture, to a
// template's param, to a run-time root (each, feed), or call sensitive(), and that are not
// the plain reference (already in the redaction set), are found once per
// step; they are evaluated again, in
// the request's context, only when a redactor is built (a failure, or an
// excerpt outside a load), and their strings join that redactor.

// derivedExprs are the parts of a request computed from secrets.
type derivedExprs struct {
	once  sync.Once
	exprs []derivedExpr
}

type derivedExpr struct {
	expr hcl.Expression
	// refs are its references to what is a secret or not by run (a
	// capture, each, feed: Env.lateSecretRef), params the template's
	// params it reads (late ones are secrets or not by run too); with no
	// sensitive variable or local, the part is a secret when one of these
	// is in the run.
	refs     []hcl.Traversal
	params   []string
	byConfig bool
}

func (h *HTTPRequest) derived(cfg *config.Config) []derivedExpr {
	d := &h.derivedParts
	d.once.Do(func() {
		for _, e := range h.exprs() {
			d.exprs = collectDerived(e, cfg, h.sensitive, d.exprs)
		}
	})
	return d.exprs
}

// collectDerived appends the parts of e computed from a secret.
func collectDerived(e hcl.Expression, cfg *config.Config, params map[string]bool, out []derivedExpr) []derivedExpr {
	byConfig := cfg != nil && cfg.IsSensitive(e) || config.CallsSensitive(e)
	var ps []string
	var refs []hcl.Traversal
	for _, tr := range e.Variables() {
		switch tr.RootName() {
		case "capture", "each", "feed":
			refs = append(refs, tr)
		case "param":
			if len(tr) >= 2 {
				if n := attrName(tr[1]); params[n] {
					byConfig = true // a sensitive param: its value is added by attempt
				} else if n != "" {
					ps = append(ps, n)
				}
			}
		}
	}
	if !byConfig && len(refs) == 0 && len(ps) == 0 {
		return out
	}
	switch x := e.(type) {
	case *hclsyntax.ObjectConsExpr:
		for _, it := range x.Items {
			out = collectDerived(it.KeyExpr, cfg, params, out)
			out = collectDerived(it.ValueExpr, cfg, params, out)
		}
		return out
	case *hclsyntax.ObjectConsKeyExpr:
		return collectDerived(x.Wrapped, cfg, params, out)
	case *hclsyntax.TupleConsExpr:
		for _, it := range x.Exprs {
			out = collectDerived(it, cfg, params, out)
		}
		return out
	case *hclsyntax.TemplateExpr:
		for _, p := range x.Parts {
			out = collectDerived(p, cfg, params, out)
		}
		return out
	case *hclsyntax.TemplateWrapExpr:
		return collectDerived(x.Wrapped, cfg, params, out)
	case *hclsyntax.ParenthesesExpr:
		return collectDerived(x.Expression, cfg, params, out)
	case *hclsyntax.ScopeTraversalExpr:
		// var.pw, local.basic, capture.token: in the set already.
		return out
	}
	return append(out, derivedExpr{expr: e, refs: refs, params: ps, byConfig: byConfig})
}

// withDerived returns red with the strings of the request's derived parts
// added, evaluated in ectx when the redactor is first built; secretParam
// says which of the template's params hold a secret in this run.
func (e *Env) withDerived(red func() *Redactor, h *HTTPRequest, ectx *hcl.EvalContext, secretParam func(string) bool) func() *Redactor {
	parts := h.derived(e.Config)
	if len(parts) == 0 {
		return red
	}
	var r *Redactor
	return func() *Redactor {
		if r != nil {
			return r
		}
		var secrets []string
		for _, p := range parts {
			if !p.byConfig && !slices.ContainsFunc(p.refs, e.lateSecretRef) && !slices.ContainsFunc(p.params, secretParam) {
				continue
			}
			v, diags := p.expr.Value(ectx)
			if diags.HasErrors() {
				continue
			}
			secrets = append(secrets, captureStrings(v)...)
		}
		r = red().With(secrets...)
		return r
	}
}
