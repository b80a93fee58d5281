package functional

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Schema is the schema of a functional block's own body as decode reads
// it (config.Schema).
func Schema() *config.Schema {
	return &config.Schema{Bodies: []*hcl.BodySchema{schema}, Blocks: map[string]*config.Schema{
		"step":     step.Schema(),
		"case":     {Bodies: []*hcl.BodySchema{caseSchema}, Blocks: map[string]*config.Schema{"step": step.Schema()}},
		"setup":    step.StepsSchema(stepsSchema),
		"teardown": step.StepsSchema(stepsSchema),
	}}
}
