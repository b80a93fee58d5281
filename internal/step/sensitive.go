package step

import (
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
)

// credentialWords make a capture sensitive by its name alone: what a login
// hands out (token, session, cookie, a key or a secret) is a credential
// whoever captures it, so it is redacted without being asked.
var credentialWords = []string{"token", "secret", "password", "passwd", "session", "cookie", "jwt",
	"apikey", "api_key", "credential", "bearer", "authorization"}

// credentialParts are shorter words that make a capture sensitive when
// they are a whole part of its name (sid, user_pwd, auth), not inside
// another word (inside, author).
var credentialParts = map[string]bool{"sid": true, "pwd": true, "pw": true, "auth": true, "otp": true, "pin": true, "key": true}

// captureIsSensitive reports whether a capture holds a secret: it calls
// sensitive(), refers to a sensitive variable or local, reads a header
// that carries credentials (response.headers["Set-Cookie"], response.cookies), or its name
// says it is a credential (token, session_id, api_key, …).
func captureIsSensitive(name string, expr hcl.Expression, dc *config.DecodeContext) bool {
	if dc != nil && dc.IsSensitive(expr) || config.CallsSensitive(expr) {
		return true
	}
	n := strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	for _, part := range strings.FieldsFunc(n, func(r rune) bool { return r == '_' || r == '-' }) {
		if credentialParts[part] {
			return true
		}
	}
	for _, tr := range expr.Variables() {
		if tr.RootName() != "response" || len(tr) < 2 {
			continue
		}
		switch f := attrName(tr[1]); {
		case f == "cookies": // a cookie's value is a credential (Set-Cookie)
			return true
		case (f == "headers" || f == "header_values") && len(tr) >= 3 && SecretHeader(attrName(tr[2])):
			return true
		}
	}
	return false
}

// sensitiveNames are the names of the sensitive captures a suite has
// made; one set is shared by the copies of an Env, so that a later step
// (or case) redacts capture.token wherever it is used.
type sensitiveNames struct {
	mu sync.RWMutex
	// names holds each sensitive capture's name: true for one sensitive by
	// itself, false for one computed from a secret (whose values shorter
	// than minForm are not matched in text: every "2" would go).
	names map[string]bool
}

// add marks the capture name sensitive (derived: computed from a secret).
func (s *sensitiveNames) add(name string, derived bool) {
	if s == nil {
		return
	}
	s.mu.RLock()
	whole, known := s.names[name]
	s.mu.RUnlock()
	if known && (whole || derived) {
		return
	}
	s.mu.Lock()
	if s.names == nil {
		s.names = map[string]bool{}
	}
	s.names[name] = s.names[name] || !derived
	s.mu.Unlock()
}

// any reports whether some capture is sensitive.
func (s *sensitiveNames) any() bool {
	if s == nil {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.names) > 0
}

// anyOf reports whether one of names is a sensitive capture.
func (s *sensitiveNames) anyOf(names []string) bool {
	if s == nil || len(names) == 0 {
		return false
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, n := range names {
		if _, ok := s.names[n]; ok {
			return true
		}
	}
	return false
}

// values returns the strings of the sensitive captures among captures.
func (s *sensitiveNames) values(captures map[string]cty.Value) []string {
	if s == nil || len(captures) == 0 {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []string
	for name, whole := range s.names {
		if v, ok := captures[name]; ok {
			out = append(out, secretStrings(v, !whole)...)
		}
	}
	return out
}

// captureStrings returns the strings a captured value holds.
func captureStrings(v cty.Value) []string {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch {
	case v.Type() == cty.String:
		if s := v.AsString(); s != "" {
			return []string{s}
		}
	case v.Type() == cty.Number:
		return []string{v.AsBigFloat().Text('f', -1)}
	case v.CanIterateElements():
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, captureStrings(e)...)
		}
		return out
	}
	return nil
}

// redactor returns a function that gives the env's redactor with the
// sensitive captures among captures added, built on first use: under load
// most requests have nothing to redact.
func (e *Env) redactor(captures map[string]cty.Value) func() *Redactor {
	var r *Redactor
	return func() *Redactor {
		if r == nil {
			r = e.Redact.With(append(e.sensitive.values(captures), e.learned.list()...)...)
		}
		return r
	}
}

// lazyRedactor is the redactor of redactor(captures), built on first use,
// kept in a Scratch so that an attempt allocates none.
type lazyRedactor struct {
	env      *Env
	captures map[string]cty.Value
	r        *Redactor
}

func (l *lazyRedactor) get() *Redactor {
	if l.r == nil {
		l.r = l.env.Redact.With(append(l.env.sensitive.values(l.captures), l.env.learned.list()...)...)
	}
	return l.r
}

// attemptRedactor is redactor(captures) for the base of one attempt: with
// a Scratch, the Scratch's, reset (the attempt before is over; what it
// wrapped around its redactor went with it).
func (e *Env) attemptRedactor(captures map[string]cty.Value) func() *Redactor {
	sc := e.Scratch
	if sc == nil {
		return e.redactor(captures)
	}
	if sc.bound != &sc.red { // first use, or a copied Scratch: bind to this one
		sc.get, sc.bound = sc.red.get, &sc.red
	}
	sc.red = lazyRedactor{env: e, captures: captures}
	return sc.get
}

// redactContext returns ctx with the values of credential headers and
// cookies in the response replaced, for printing a failed condition's
// values ("with response.headers["Set-Cookie"] as …").
func redactContext(ctx *hcl.EvalContext) *hcl.EvalContext {
	resp, ok := ctx.Variables["response"]
	// An HTTP response holds only the fields its step reads: any of these.
	if !ok || resp.IsNull() || !resp.IsKnown() || !resp.Type().IsObjectType() ||
		!(resp.Type().HasAttribute("headers") || resp.Type().HasAttribute("header_values") || resp.Type().HasAttribute("cookies")) {
		return ctx
	}
	attrs := resp.AsValueMap()
	changed := false
	hide := func(field string, secret func(string) bool) {
		if v, ok := hideSecrets(attrs[field], secret); ok {
			attrs[field], changed = v, true
		}
	}
	hide("headers", SecretHeader)
	hide("header_values", SecretHeader)
	hide("cookies", func(string) bool { return true })
	if !changed {
		return ctx
	}
	vars := make(map[string]cty.Value, len(ctx.Variables))
	for k, v := range ctx.Variables {
		vars[k] = v
	}
	vars["response"] = cty.ObjectVal(attrs)
	var out *hcl.EvalContext
	if p := ctx.Parent(); p != nil {
		out = p.NewChild()
	} else {
		out = &hcl.EvalContext{}
	}
	out.Variables, out.Functions = vars, ctx.Functions
	return out
}

// hideSecrets replaces the elements of a map or object that secret says
// are credentials, keeping its kind (a map stays a map); ok is false when
// it hides none (or v is no map or object).
func hideSecrets(v cty.Value, secret func(string) bool) (cty.Value, bool) {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || !v.CanIterateElements() || v.LengthInt() == 0 {
		return v, false
	}
	m := map[string]cty.Value{}
	hidden := false
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if secret(k.AsString()) {
			if e.Type().IsTupleType() {
				l := make([]cty.Value, e.LengthInt())
				for i := range l {
					l[i] = cty.StringVal(Redacted)
				}
				e = cty.TupleVal(l)
			} else {
				e = cty.StringVal(Redacted)
			}
			hidden = true
		}
		m[k.AsString()] = e
	}
	if !hidden {
		return v, false
	}
	if v.Type().IsMapType() {
		return cty.MapVal(m), true
	}
	return cty.ObjectVal(m), true
}

// SensitiveCaptures returns the values of the sensitive captures among
// captures, for a suite that keeps them elsewhere.
func (e *Env) SensitiveCaptures(captures map[string]cty.Value) []string {
	return e.sensitive.values(captures)
}
