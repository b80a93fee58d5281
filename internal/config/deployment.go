package config

import (
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
)

// Deployment modes, layers and disaster-recovery tiers of the industry guide.
var (
	Modes  = []string{"private", "community", "hybrid"}
	Layers = []string{"iaas", "paas", "saas"}
	Tiers  = []string{"critical", "general", "office"}
)

var deploymentSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "mode", Required: true}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "component", LabelNames: []string{"name"}},
		{Type: "approver", LabelNames: []string{"name"}},
	},
}

var componentSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "mode"},
		{Name: "layers", Required: true},
		{Name: "tier"},
		{Name: "vendor"},
	},
}

var approverSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "role"}},
}

func decodeDeployment(b *hcl.Block, dc *DecodeContext) (*Deployment, hcl.Diagnostics) {
	dep := &Deployment{DeclRange: b.DefRange}
	content, diags := b.Body.Content(deploymentSchema)
	var d hcl.Diagnostics
	if a, ok := content.Attributes["mode"]; ok {
		dep.Mode, d = dc.OneOf(a, Modes...)
		diags = append(diags, d...)
	}
	seen := map[string]*Component{}
	for _, blk := range content.Blocks {
		if blk.Type == "approver" {
			ap := Approver{Name: blk.Labels[0]}
			c, d := blk.Body.Content(approverSchema)
			diags = append(diags, d...)
			if a, ok := c.Attributes["role"]; ok {
				ap.Role, d = dc.String(a)
				diags = append(diags, d...)
			}
			dep.Approvers = append(dep.Approvers, ap)
			continue
		}
		comp, d := decodeComponent(blk, dep.Mode, dc)
		diags = append(diags, d...)
		if prev, dup := seen[comp.Name]; dup {
			diags = append(diags, duplicate("component", comp.Name, blk.DefRange, prev.DeclRange))
			continue
		}
		seen[comp.Name] = comp
		dep.Components = append(dep.Components, comp)
	}
	if dep.Mode == "hybrid" {
		var private, community bool
		for _, c := range dep.Components {
			private = private || c.Mode == "private"
			community = community || c.Mode == "community"
		}
		if len(dep.Components) > 0 && (!private || !community) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Hybrid deployment with one mode only",
				Detail:  "A hybrid deployment usually has at least one private and one community component; this one does not.",
				Subject: b.DefRange.Ptr()})
		}
	}
	return dep, diags
}

func decodeComponent(b *hcl.Block, deploymentMode string, dc *DecodeContext) (*Component, hcl.Diagnostics) {
	c := &Component{Name: b.Labels[0], Tier: "general", DeclRange: b.DefRange}
	content, diags := b.Body.Content(componentSchema)
	var d hcl.Diagnostics
	if a, ok := content.Attributes["mode"]; ok {
		c.Mode, d = dc.OneOf(a, "private", "community")
		diags = append(diags, d...)
		if !d.HasErrors() && deploymentMode != "" && deploymentMode != "hybrid" && c.Mode != deploymentMode {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Component mode differs from the deployment",
				Detail:  fmt.Sprintf("The deployment is %q, so component %q cannot be %q; only a hybrid deployment mixes modes.", deploymentMode, c.Name, c.Mode),
				Subject: a.Expr.Range().Ptr()})
		}
	} else if deploymentMode == "hybrid" {
		diags = append(diags, Required(b, "mode", `mode = "private" or mode = "community" (a hybrid deployment needs each component's mode)`))
	} else {
		c.Mode = deploymentMode
	}
	if a, ok := content.Attributes["layers"]; ok {
		c.Layers, d = dc.Strings(a)
		diags = append(diags, d...)
		for _, l := range c.Layers {
			if !slices.Contains(Layers, l) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
					Detail:  fmt.Sprintf("The layers of component %q must be among %s; found %q.", c.Name, quoteList(Layers), l),
					Subject: a.Expr.Range().Ptr()})
			}
		}
		if !d.HasErrors() && len(c.Layers) == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: fmt.Sprintf("Component %q must use at least one layer.", c.Name), Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["tier"]; ok {
		c.Tier, d = dc.OneOf(a, Tiers...)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["vendor"]; ok {
		c.Vendor, d = dc.String(a)
		diags = append(diags, d...)
	}
	if c.Mode == "community" && c.Vendor == "" && !diags.HasErrors() {
		diags = append(diags, Required(b, "vendor", `vendor = "acme-cloud" (a community cloud component is run by a vendor)`))
	}
	return c, diags
}
