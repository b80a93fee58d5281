package security

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/step"
)

// runEach runs st once in senv with each.key and each.value set (beside
// senv's own variables) and adds its captures to captures. An error means
// the step could not be carried out (no HTTP answer came); a step that got
// an answer but failed its expect is an outcome, not an error.
func runEach(ctx context.Context, senv *step.Env, st *step.Step, key, value cty.Value, captures map[string]cty.Value) (step.Outcome, error) {
	env := *senv
	env.Vars = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": key, "value": value})}
	for k, v := range senv.Vars {
		env.Vars[k] = v
	}
	out := st.Run(ctx, &env, captures)
	if out.Code == 0 && out.Status == result.Errored {
		return out, fmt.Errorf("step %q: %s", st.Name, out.Message)
	}
	for k, v := range out.Captures {
		captures[k] = v
	}
	return out, nil
}

// attempt runs a check's step with each set, on its own captures.
func (ss *session) attempt(ctx context.Context, st *step.Step, key, value cty.Value) (step.Outcome, error) {
	return runEach(ctx, ss.senv, st, key, value, map[string]cty.Value{})
}

// exchangeAnswer is a step's outcome as evidence, with the secret-looking
// values of the answer masked (the token a default password obtained).
func exchangeAnswer(out step.Outcome) *answer {
	if out.Exchange != nil {
		out.Exchange.ResponseBody = step.MaskSecrets(out.Exchange.ResponseBody)
	}
	return &answer{status: out.Code, ex: out.Exchange}
}

// rateLimitCheck repeats a failing login and expects a block (429 or
// another block status) within the given number of attempts.
type rateLimitCheck struct {
	Step             *step.Step
	Attempts, Within int
	BlockStatus      []int
}

var rateLimitSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "attempts"}, {Name: "within"}, {Name: "block_status"}},
	Blocks: []hcl.BlockHeaderSchema{step.BlockSchema}}

func init() {
	register(checkKind{name: "rate_limit", rank: 70, schema: rateLimitSchema, needs: "the login step to repeat",
		defaults: func() settings { return &rateLimitCheck{Attempts: 10, Within: 5, BlockStatus: []int{429}} }})
}

func (c *rateLimitCheck) decode(b *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics {
	diags := attrs{
		"attempts": positiveAttr(dc, &c.Attempts), "within": positiveAttr(dc, &c.Within),
		"block_status": intsWithin(dc, &c.BlockStatus, 100, 599, "an HTTP status"),
	}.decode(content)
	var d hcl.Diagnostics
	c.Step, d = oneStep(b, content, dc, ", the attempt's number")
	diags = append(diags, d...)
	if c.Within <= c.Attempts || c.Attempts <= 0 || c.Within <= 0 {
		return diags
	}
	detail := fmt.Sprintf("rate_limit: within (%d) must not exceed attempts (%d).", c.Within, c.Attempts)
	subject := b.DefRange.Ptr()
	if w, ok := content.Attributes["within"]; ok {
		subject = w.Expr.Range().Ptr()
	} else {
		detail = fmt.Sprintf("rate_limit: within defaults to %d, which must not exceed attempts (%d): set within to at most %d, or raise attempts.", c.Within, c.Attempts, c.Attempts)
		if at, ok := content.Attributes["attempts"]; ok {
			subject = at.Expr.Range().Ptr()
		}
	}
	return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value", Detail: detail, Subject: subject})
}

// oneStep decodes the one step block a login check repeats; uses says
// what its each.value is.
func oneStep(b *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext, uses string) (*step.Step, hcl.Diagnostics) {
	steps, diags := decodeSteps(content.Blocks, dc)
	if len(steps) == 1 {
		return steps[0], diags
	}
	return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Check needs one step",
		Detail:  fmt.Sprintf("Check %q needs exactly one step block: the login attempt it repeats (it may use each.value%s).", b.Labels[0], uses),
		Subject: b.DefRange.Ptr()})
}

func (c *rateLimitCheck) run(ctx context.Context, ss *session) ([]result.Finding, error) {
	var last step.Outcome
	for i := 1; i <= c.Attempts; i++ {
		out, err := ss.attempt(ctx, c.Step, cty.NumberIntVal(int64(i)), cty.NumberIntVal(int64(i)))
		if err != nil {
			return nil, err
		}
		last = out
		if contains(c.BlockStatus, out.Code) {
			if i <= c.Within {
				return nil, nil
			}
			f := finding("rate_limit", "late-throttle", "medium", "Login throttled too late", c.Step.Name,
				fmt.Sprintf("The attempts were blocked (status %d) only at attempt %d; the limit is %d.", out.Code, i, c.Within),
				"OWASP API4:2023; CWE-307", exchangeAnswer(out))
			return []result.Finding{f}, nil
		}
	}
	f := finding("rate_limit", "not-throttled", "medium", "Repeated logins are not throttled", c.Step.Name,
		fmt.Sprintf("%d attempts in a burst were all answered without a block status %v (the last: %d); password guessing is not slowed down.", c.Attempts, c.BlockStatus, last.Code),
		"OWASP API4:2023; CWE-307", exchangeAnswer(last))
	return []result.Finding{f}, nil
}

// defaultCredentialsCheck tries each user/password pair; a pair is
// accepted when the answer is 2xx and the step's expect holds, since many
// logins answer 200 with an error in the body.
type defaultCredentialsCheck struct {
	Step  *step.Step
	Pairs [][2]string
}

var defaultCredentialsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "pairs"}},
	Blocks: []hcl.BlockHeaderSchema{step.BlockSchema}}

// defaultPairs are the user/password pairs most often left in place.
var defaultPairs = [][2]string{
	{"admin", "admin"}, {"admin", "password"}, {"admin", "123456"}, {"root", "root"}, {"root", "toor"},
	{"test", "test"}, {"guest", "guest"}, {"user", "user"},
}

func init() {
	register(checkKind{name: "default_credentials", rank: 80, schema: defaultCredentialsSchema, needs: "the login step to try",
		defaults: func() settings { return &defaultCredentialsCheck{Pairs: defaultPairs} }})
}

func (c *defaultCredentialsCheck) decode(b *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics {
	diags := attrs{"pairs": func(a *hcl.Attribute) (d hcl.Diagnostics) {
		c.Pairs, d = decodePairs(dc, a)
		return d
	}}.decode(content)
	var d hcl.Diagnostics
	c.Step, d = oneStep(b, content, dc, ".user and each.value.password")
	return append(diags, d...)
}

func (c *defaultCredentialsCheck) run(ctx context.Context, ss *session) ([]result.Finding, error) {
	var out []result.Finding
	for i, pair := range c.Pairs {
		v := cty.ObjectVal(map[string]cty.Value{"user": cty.StringVal(pair[0]), "password": cty.StringVal(pair[1])})
		o, err := ss.attempt(ctx, c.Step, cty.NumberIntVal(int64(i)), v)
		if err != nil {
			return out, err
		}
		if ok2xx(o.Code) && o.Status == result.Passed {
			out = append(out, finding("default_credentials", "accepted", "critical", "Default credentials accepted", pair[0],
				fmt.Sprintf("The login accepted the user %q with a well-known default password (status %d).", pair[0], o.Code),
				"OWASP WSTG-ATHN-02; CWE-1392", exchangeAnswer(o)))
		}
	}
	return out, nil
}

// decodePairs reads [["admin", "admin"], ...].
func decodePairs(dc *config.DecodeContext, a *hcl.Attribute) ([][2]string, hcl.Diagnostics) {
	v, diags := dc.Value(a)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid pairs",
		Detail:  "The attribute \"pairs\" must be a list of [user, password] pairs, such as [[\"admin\", \"admin\"], [\"root\", \"root\"]].",
		Subject: a.Expr.Range().Ptr()})
	if !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil, bad
	}
	var out [][2]string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.CanIterateElements() || e.LengthInt() != 2 {
			return nil, bad
		}
		var pair [2]string
		i := 0
		for it2 := e.ElementIterator(); it2.Next(); i++ {
			_, s := it2.Element()
			if s.IsNull() || s.Type() != cty.String {
				return nil, bad
			}
			pair[i] = s.AsString()
		}
		out = append(out, pair)
	}
	return out, diags
}
