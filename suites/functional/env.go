package functional

import (
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

func newStepEnv(env *runner.Env) (*step.Env, error) {
	return step.NewEnv(env.Config, env.URLs(), env.Suite().Target)
}
