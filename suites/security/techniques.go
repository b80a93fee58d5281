package security

import (
	"context"
	"fmt"
	"net/http"

	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/step"
)

// attackPayloads are what the injection technique sends, one request each.
var attackPayloads = []string{
	"1' OR '1'='1", "1; DROP TABLE accounts--", "' UNION SELECT username, password FROM users--",
	`<script>alert(1)</script>`, "../../../../etc/passwd", "1;cat /etc/passwd",
}

// sendAttack sends the attack's requests, calling saw with each status
// code that came back, and returns how many were sent.
func (ss *session) sendAttack(ctx context.Context, at *Attack, senv *step.Env, captures map[string]cty.Value, saw func(int)) (int, error) {
	runStep := func(st *step.Step, key, value cty.Value) error {
		out, err := runEach(ctx, senv, st, key, value, captures)
		if err != nil {
			return err
		}
		saw(out.Code)
		return nil
	}
	n := 0
	switch at.Technique {
	case "credential_stuffing":
		for i := range at.Attempts {
			v := cty.ObjectVal(map[string]cty.Value{
				"user":     cty.StringVal(fmt.Sprintf("customer%03d", i+1)),
				"password": cty.StringVal(fmt.Sprintf("Leaked-%03d!", i+1)),
			})
			if err := runStep(at.Steps[0], cty.NumberIntVal(int64(i)), v); err != nil {
				return n, err
			}
			n++
		}
	case "injection":
		for i, p := range attackPayloads {
			if i >= at.Attempts {
				break
			}
			if err := runStep(at.Steps[0], cty.NumberIntVal(int64(i)), cty.StringVal(p)); err != nil {
				return n, err
			}
			n++
		}
	case "scanning":
		paths := at.Paths
		if len(paths) == 0 {
			paths = defaultExposurePaths
		}
		for i, p := range paths {
			if len(at.Steps) > 0 {
				if err := runStep(at.Steps[0], cty.NumberIntVal(int64(i)), cty.StringVal(p)); err != nil {
					return n, err
				}
			} else {
				a, err := ss.send(ctx, http.MethodGet, ss.url(p), nil, nil)
				if err != nil {
					return n, err
				}
				saw(a.status)
			}
			n++
		}
	default:
		for i, st := range at.Steps {
			if err := runStep(st, cty.NumberIntVal(int64(i)), cty.NullVal(cty.DynamicPseudoType)); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
