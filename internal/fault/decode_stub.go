package fault

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Decode is a placeholder until the fault branch lands (deleted at merge).
func Decode(b *hcl.Block, dc *config.DecodeContext) (*Spec, hcl.Diagnostics) {
	content, diags := b.Body.JustAttributes()
	s := &Spec{Name: b.Labels[0], Engine: "local", DeclRange: b.DefRange}
	for name, a := range content {
		switch name {
		case "action":
			s.Action, _ = dc.String(a)
		case "after":
			s.After, _ = dc.Duration(a)
		case "duration":
			s.Duration, _ = dc.Duration(a)
		case "engine":
			s.Engine, _ = dc.String(a)
		}
	}
	return s, diags
}
