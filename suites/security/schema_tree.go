package security

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Schema is the schema of a security block's own body as decode reads it
// (config.Schema): a check block's body is its kind's (check "tls"),
// from the registered kinds.
func Schema() *config.Schema {
	checks := map[string]*config.Schema{}
	for _, k := range kinds {
		checks[k.name] = checkSchema(k.schema)
	}
	return &config.Schema{Bodies: []*hcl.BodySchema{schema}, Blocks: map[string]*config.Schema{
		"scope":    config.Attrs(scopeSchema),
		"check":    {ByLabel: checks},
		"identity": {Bodies: []*hcl.BodySchema{identitySchema}, Blocks: map[string]*config.Schema{"step": step.Schema()}},
		"waiver":   config.Attrs(waiverSchema),
		"drill": {Bodies: []*hcl.BodySchema{drillSchema}, Blocks: map[string]*config.Schema{
			"webhook": config.Attrs(webhookSchema),
			"setup":   step.StepsSchema(setupSchema),
			"attack": {Bodies: []*hcl.BodySchema{attackSchema}, Blocks: map[string]*config.Schema{
				"step": step.Schema(),
				"expect_detection": {Bodies: []*hcl.BodySchema{detectionSchema}, Blocks: map[string]*config.Schema{
					"log": config.Attrs(logSchema), "webhook": config.Attrs(hookMatchSchema)}},
			}},
		}},
	}}
}

// checkSchema is the schema of a check kind's body: its attributes, and
// the blocks some kinds have (the steps a login check repeats, the
// parameters injection probes).
func checkSchema(body *hcl.BodySchema) *config.Schema {
	s := &config.Schema{Bodies: []*hcl.BodySchema{body}, Blocks: map[string]*config.Schema{}}
	for _, h := range body.Blocks {
		switch h.Type {
		case step.BlockSchema.Type:
			s.Blocks[h.Type] = step.Schema()
		case "parameter":
			s.Blocks[h.Type] = config.Attrs(paramSchema)
		}
	}
	return s
}
