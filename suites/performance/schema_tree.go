package performance

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Schema is the schema of a performance block's own body as decode reads
// it (config.Schema): a journey's step is its think_time and a step's
// body.
func Schema() *config.Schema {
	journeyStep := step.Schema()
	journeyStep.Bodies = append([]*hcl.BodySchema{thinkSchema}, journeyStep.Bodies...)
	return &config.Schema{Bodies: []*hcl.BodySchema{schema}, Blocks: map[string]*config.Schema{
		"load": {Bodies: []*hcl.BodySchema{loadSchema}, Blocks: map[string]*config.Schema{
			"stage": config.Attrs(stageSchema), "kubernetes": config.Attrs(podsSchema)}},
		"journey":     {Bodies: []*hcl.BodySchema{journeySchema}, Blocks: map[string]*config.Schema{"step": journeyStep}},
		"thresholds":  config.Attrs(thresholdSchema),
		"feed":        config.Attrs(feedSchema),
		"utilization": config.Attrs(utilizationSchema),
	}}
}
