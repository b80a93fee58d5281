package fault

import "github.com/cloudtest/cloudtest/internal/config"

// Schema is the schema of a fault block's body as Decode reads it: the
// attributes every fault has and each action's (config.Schema).
func Schema() *config.Schema { return config.Attrs(blockSchema) }
