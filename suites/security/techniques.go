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
	runStep := func(st *step.Step, i int, value cty.Value) error {
		out, err := runEach(ctx, senv, st, cty.NumberIntVal(int64(i)), value, captures)
		if err != nil {
			return err
		}
		saw(out.Code)
		return nil
	}
	switch at.Technique {
	case "credential_stuffing":
		return stuffCredentials(at, runStep)
	case "injection":
		return injectPayloads(at, runStep)
	case "scanning":
		return ss.scan(ctx, at, runStep, saw)
	}
	n := 0
	for i, st := range at.Steps {
		if err := runStep(st, i, cty.NullVal(cty.DynamicPseudoType)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// stepRunner runs a step of an attack with each.key i and each.value value.
type stepRunner func(st *step.Step, i int, value cty.Value) error

// stuffCredentials tries made-up leaked user/password pairs.
func stuffCredentials(at *Attack, runStep stepRunner) (int, error) {
	n := 0
	for i := range at.Attempts {
		v := cty.ObjectVal(map[string]cty.Value{
			"user":     cty.StringVal(fmt.Sprintf("customer%03d", i+1)),
			"password": cty.StringVal(fmt.Sprintf("Leaked-%03d!", i+1)),
		})
		if err := runStep(at.Steps[0], i, v); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// injectPayloads sends the attack payloads, at most attempts of them.
func injectPayloads(at *Attack, runStep stepRunner) (int, error) {
	n := 0
	for i, p := range attackPayloads {
		if i >= at.Attempts {
			break
		}
		if err := runStep(at.Steps[0], i, cty.StringVal(p)); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// scan asks for each path (the exposure check's debug and admin paths by
// default), through the attack's step when it has one.
func (ss *session) scan(ctx context.Context, at *Attack, runStep stepRunner, saw func(int)) (int, error) {
	paths := at.Paths
	if len(paths) == 0 {
		paths = defaultExposurePaths
	}
	n := 0
	for i, p := range paths {
		if len(at.Steps) > 0 {
			if err := runStep(at.Steps[0], i, cty.StringVal(p)); err != nil {
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
	return n, nil
}
