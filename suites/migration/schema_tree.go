package migration

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Schema is the schema of a migration block's own body as decode reads
// it (config.Schema).
func Schema() *config.Schema {
	return &config.Schema{Bodies: []*hcl.BodySchema{schema}, Blocks: map[string]*config.Schema{
		"source": config.Attrs(endpointSchema),
		"target": config.Attrs(endpointSchema),
		"table":  config.Attrs(tableSchema),
	}}
}
