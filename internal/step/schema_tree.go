package step

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Schema is the schema of a step block's body as DecodeWith reads it: use
// and with, then the step's own attributes and blocks (config.Schema).
func Schema() *config.Schema {
	return &config.Schema{Bodies: []*hcl.BodySchema{config.UseSchema(), stepSchema}, Blocks: bodyBlocks()}
}

// TemplateBodySchema is the schema of a step_template's body: a step's,
// without use and with.
func TemplateBodySchema() *config.Schema {
	return &config.Schema{Bodies: []*hcl.BodySchema{stepSchema}, Blocks: bodyBlocks()}
}

func bodyBlocks() map[string]*config.Schema {
	return map[string]*config.Schema{
		"http": {Bodies: []*hcl.BodySchema{httpSchema}, Blocks: map[string]*config.Schema{
			"multipart": {Bodies: []*hcl.BodySchema{multipartSchema}, Blocks: map[string]*config.Schema{
				"field": config.Attrs(fieldSchema), "file": config.Attrs(fileSchema)}},
		}},
		"sql":        config.Attrs(sqlSchema),
		"tcp":        config.Attrs(tcpSchema),
		"expect":     config.Attrs(expectSchema),
		"assert":     config.Attrs(assertSchema),
		"capture":    config.FreeBody,
		"eventually": config.Attrs(eventuallySchema),
	}
}

// StepsSchema is the schema of a body of step blocks only (a setup, a
// steady state), read with steps, a body schema of its decoder.
func StepsSchema(steps *hcl.BodySchema) *config.Schema {
	return &config.Schema{Bodies: []*hcl.BodySchema{steps}, Blocks: map[string]*config.Schema{"step": Schema()}}
}
