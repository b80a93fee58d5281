package config

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// sensitivePlaceholder stands for a sensitive value in a load-time
// diagnostic.
const sensitivePlaceholder = "(sensitive value)"

// minRedacted is the shortest secret a diagnostic's text is searched for:
// a shorter one ("1") would blank out line numbers and words alike.
const minRedacted = 3

// redactDiags keeps the values of sensitive variables (and of the locals
// made from them) out of load-time diagnostics: out of their summary and
// detail (a function's own message quotes its argument), and out of the
// "with var.pw as …" lines hcl's writer adds from the evaluation context,
// where they are marked so that the writer leaves them out.
func (c *Config) redactDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	var secrets []string
	for _, s := range c.SensitiveValues() {
		if len(s) >= minRedacted {
			secrets = append(secrets, s)
		}
	}
	if len(secrets) == 0 {
		return diags
	}
	// Longest first, so that a secret inside another goes with it.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	text := func(s string) string {
		for _, secret := range secrets {
			s = strings.ReplaceAll(s, secret, sensitivePlaceholder)
		}
		return s
	}
	holds := func(v cty.Value) bool {
		for _, s := range sensitiveStrings(v, true) {
			for _, secret := range secrets {
				if strings.Contains(s, secret) {
					return true
				}
			}
		}
		return false
	}
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		cp := *d
		cp.Summary, cp.Detail = text(cp.Summary), text(cp.Detail)
		if cp.EvalContext != nil {
			cp.EvalContext = markSecrets(cp.EvalContext, holds)
		}
		out[i] = &cp
	}
	return out
}

// markSecrets returns a child of ctx in which every variable, local and
// target whose value holds a secret is marked sensitive.
func markSecrets(ctx *hcl.EvalContext, holds func(cty.Value) bool) *hcl.EvalContext {
	child := ctx.NewChild()
	child.Variables = map[string]cty.Value{}
	for c := ctx; c != nil; c = c.Parent() {
		for root, v := range c.Variables {
			if _, done := child.Variables[root]; done {
				continue
			}
			if v.IsKnown() && !v.IsNull() && !v.IsMarked() && v.Type().IsObjectType() {
				attrs := map[string]cty.Value{}
				for name, av := range v.AsValueMap() {
					if holds(av) {
						av = av.Mark("sensitive")
					}
					attrs[name] = av
				}
				v = cty.ObjectVal(attrs)
			} else if holds(v) {
				v = v.Mark("sensitive")
			}
			child.Variables[root] = v
		}
	}
	return child
}

// maskSource blanks the bytes of r in f (byte for byte, so that every
// other range still points at its bytes): the value of a sensitive
// variable in a var-file is not shown in a diagnostic's snippet.
func maskSource(f *hcl.File, r hcl.Range) {
	if f == nil || r.Start.Byte < 0 || r.End.Byte > len(f.Bytes) || r.Start.Byte >= r.End.Byte {
		return
	}
	b := append([]byte(nil), f.Bytes...)
	for i := r.Start.Byte; i < r.End.Byte; i++ {
		if b[i] != '\n' && b[i] != '\r' {
			b[i] = '*'
		}
	}
	f.Bytes = b
}
