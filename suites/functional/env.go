package functional

import (
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

func newStepEnv(env *runner.Env) (*step.Env, error) {
	urls := map[string]string{}
	for name, inst := range env.Targets {
		urls[name] = inst.URL
	}
	return step.NewEnv(env.Config, urls, env.Suite().Target)
}
