package config

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// unknownFunctions reports every call in expr to a function the language
// does not have. Expressions evaluated at run time (those that use
// response or capture) are not evaluated while a suite is validated, so
// without this a misspelt function would pass validate and fail mid-run.
// The message is hcl's own for the same mistake in a load-time value.
func (dc *DecodeContext) unknownFunctions(expr hcl.Expression) hcl.Diagnostics {
	se, ok := expr.(hclsyntax.Expression)
	if !ok {
		return nil
	}
	funcs := dc.cfg.static.Functions
	var diags hcl.Diagnostics
	hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
		c, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok {
			return nil
		}
		if _, found := funcs[c.Name]; found {
			return nil
		}
		names := make([]string, 0, len(funcs))
		for k := range funcs {
			names = append(names, k)
		}
		sort.Strings(names)
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Call to unknown function",
			Detail:   fmt.Sprintf("There is no function named %q.%s", c.Name, Suggest(c.Name, names)),
			Subject:  c.NameRange.Ptr(),
			Context:  c.Range().Ptr(),
		})
		return nil
	})
	return diags
}
