package reliability

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/fault"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Schema is the schema of a reliability block's own body as decode reads
// it (config.Schema): a probe is its own attributes and a step's body.
func Schema() *config.Schema {
	probe := step.Schema()
	probe.Bodies = append([]*hcl.BodySchema{probeSchema}, probe.Bodies...)
	return &config.Schema{Bodies: []*hcl.BodySchema{schema}, Blocks: map[string]*config.Schema{
		"setup":        step.StepsSchema(stepsSchema),
		"steady_state": step.StepsSchema(stepsSchema),
		"probe":        probe,
		"ledger": {Bodies: []*hcl.BodySchema{ledgerSchema}, Blocks: map[string]*config.Schema{
			"write": step.Schema(), "read": step.Schema()}},
		"fault":      fault.Schema(),
		"abort_when": config.Attrs(abortSchema),
		"objectives": config.Attrs(objectivesSchema),
	}}
}
