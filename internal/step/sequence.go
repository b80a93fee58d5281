package step

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/result"
)

// RunSequence runs steps in order, each step's captures added to captures
// for the steps after it. After a step that does not pass, and once ctx has
// ended, the remaining steps are not run. report is called for every step,
// run or not (then with a Skipped outcome saying why). It returns the worst
// status and, when it is not Passed, why.
func RunSequence(ctx context.Context, env *Env, steps []*Step, captures map[string]cty.Value, report func(*Step, Outcome)) (result.Status, string) {
	skip := func(rest []*Step, why string) {
		for _, st := range rest {
			report(st, Outcome{Status: result.Skipped, Message: why})
		}
	}
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			msg := "not run: the run was interrupted"
			if err == context.DeadlineExceeded {
				msg = "not run: the suite's timeout passed"
			}
			skip(steps[i:], msg)
			return result.Skipped, msg
		}
		out := st.Run(ctx, env, captures)
		for k, v := range out.Captures {
			captures[k] = v
		}
		report(st, out)
		if out.Status != result.Passed {
			skip(steps[i+1:], fmt.Sprintf("not run: step %q did not pass", st.Name))
			msg := out.Message
			if out.First != "" {
				msg = out.First
			}
			return out.Status, fmt.Sprintf("step %q %s: %s", st.Name, out.Status, msg)
		}
	}
	return result.Passed, ""
}
