package step

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// evalURL evaluates a path or url attribute. What the suite's author wrote
// literally is sent as written; what is interpolated into it ("/accounts/
// ${each.value}") is data and is percent-encoded where it lands: as a path
// segment before the template's first literal "?", as a query value after
// it. So "a b" becomes a%20b, "1?x" becomes 1%3Fx and "R&D" in a query
// becomes R%26D, as Hurl and k6 send them, instead of a malformed request
// line or a different request. A "/" in a value stays a separator (a base
// path held in a variable is common) and an escape already made ("%2F")
// is kept, so that urlencode() of a value is not encoded twice.
func evalURL(e hcl.Expression, lit *string, ectx *hcl.EvalContext, what string) (string, error) {
	if lit != nil {
		return *lit, nil
	}
	tmpl, ok := e.(*hclsyntax.TemplateExpr)
	if !ok {
		return evalString(e, ectx, what)
	}
	var b strings.Builder
	query := false
	for _, part := range tmpl.Parts {
		v, diags := part.Value(ectx)
		if diags.HasErrors() {
			return "", diagError(diags)
		}
		if v.IsNull() {
			return "", fmt.Errorf("%s: a value interpolated at %s is null", what, part.Range())
		}
		s, err := convert.Convert(v, cty.String)
		if err != nil {
			return "", fmt.Errorf("%s must be a string: %w", what, err)
		}
		if !s.IsKnown() {
			return "", fmt.Errorf("%s: a value interpolated at %s is not known", what, part.Range())
		}
		text := s.AsString()
		if l, isLit := part.(*hclsyntax.LiteralValueExpr); isLit && l.Val.Type() == cty.String {
			b.WriteString(text)
			query = query || strings.Contains(text, "?")
			continue
		}
		b.WriteString(escapeInterpolated(text, query))
	}
	return b.String(), nil
}

// escapeInterpolated percent-encodes every byte of s that may not stand
// for itself in a path segment (query false) or a query value (query
// true), keeping "/" in a path and escapes already made.
func escapeInterpolated(s string, query bool) string {
	return escapeBytes(s, func(c byte) bool { return keepInURL(c, query) })
}

// escapeQuery encodes what may not appear in a query at all (a space, a
// quote, a non-ASCII byte…), keeping its separators: the net under a query
// written literally in a path or computed whole ("?q=a b" was sent raw, a
// malformed request line).
func escapeQuery(s string) string {
	return escapeBytes(s, func(c byte) bool { return keepInURL(c, false) || c == '?' })
}

func escapeBytes(s string, keep func(byte) bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// keepInURL: RFC 3986 unreserved characters, and of the sub-delimiters
// those that keep their meaning: in a path ":@!$'()*,;=&+" and "/"; in a
// query value only ":@!$'()*,;/" and "?" ("&", "=", "+" and "#" would change
// which parameters are sent).
func keepInURL(c byte, query bool) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', ':', '@', '!', '$', '\'', '(', ')', '*', ',', ';', '/':
		return true
	case '=', '&', '+':
		return !query
	case '?':
		return query
	}
	return false
}
