package security

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

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

// checkRateLimit repeats a failing login and expects a block (429 or
// another block status) within the given number of attempts.
func checkRateLimit(ctx context.Context, ss *session, c *Check) ([]result.Finding, error) {
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

// checkDefaultCredentials tries each user/password pair; a pair is
// accepted when the answer is 2xx and the step's expect holds, since many
// logins answer 200 with an error in the body.
func checkDefaultCredentials(ctx context.Context, ss *session, c *Check) ([]result.Finding, error) {
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
