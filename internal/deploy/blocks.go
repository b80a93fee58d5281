package deploy

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Waiver accepts that a requirement is not met, with a reason, an approver
// and an expiry date; an expired waiver no longer counts.
type Waiver struct {
	ID          string    `json:"id"`
	Requirement string    `json:"requirement"`
	Reason      string    `json:"reason"`
	Approver    string    `json:"approver"`
	Expires     time.Time `json:"expires"`
	Location    string    `json:"location"`
}

var requirementSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "component", Required: true}, {Name: "category", Required: true}, {Name: "layer"},
	{Name: "kind", Required: true}, {Name: "evidence_kind"}, {Name: "description", Required: true},
}}

var waiverSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "requirement", Required: true}, {Name: "reason", Required: true},
	{Name: "approver", Required: true}, {Name: "expires", Required: true},
}}

// RequirementBlock and WaiverBlock are the loader's block kinds for
// user-added requirements and waivers.
var (
	RequirementBlock = config.BlockKind{Type: "requirement", LabelNames: []string{"id"}, Decode: decodeRequirement,
		Schema: func() *config.Schema { return config.Attrs(requirementSchema) }}
	WaiverBlock = config.BlockKind{Type: "waiver", LabelNames: []string{"id"}, Decode: decodeWaiver,
		Schema: func() *config.Schema { return config.Attrs(waiverSchema) }}
)

func decodeRequirement(b *hcl.Block, dc *config.DecodeContext) (any, hcl.Diagnostics) {
	content, diags := b.Body.Content(requirementSchema)
	r := Requirement{ID: b.Labels[0], Party: Institution, Source: config.Location(b.DefRange)}
	var d hcl.Diagnostics
	if a, ok := content.Attributes["component"]; ok {
		r.Component, d = dc.String(a)
		diags = append(diags, d...)
		if dep := dc.Config().Deployment; !d.HasErrors() && dep.Component(r.Component) == nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown component",
				Detail: fmt.Sprintf("The deployment block declares no component %q.", r.Component), Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["category"]; ok {
		r.Category, d = dc.OneOf(a, Categories...)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["layer"]; ok {
		r.Layer, d = dc.OneOf(a, config.Layers...)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["kind"]; ok {
		r.Kind, d = dc.OneOf(a, KindTest, KindEvidence)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["evidence_kind"]; ok {
		var k string
		k, d = dc.String(a)
		diags = append(diags, d...)
		r.EvidenceKinds = []string{k}
	}
	if a, ok := content.Attributes["description"]; ok {
		r.Description, d = dc.String(a)
		diags = append(diags, d...)
	}
	if r.Kind == KindEvidence && len(r.EvidenceKinds) == 0 {
		diags = append(diags, config.Required(b, "evidence_kind", `evidence_kind = "pentest_report"`))
	}
	return r, diags
}

func decodeWaiver(b *hcl.Block, dc *config.DecodeContext) (any, hcl.Diagnostics) {
	content, diags := b.Body.Content(waiverSchema)
	w := Waiver{ID: b.Labels[0], Location: config.Location(b.DefRange)}
	var d hcl.Diagnostics
	for name, dst := range map[string]*string{"requirement": &w.Requirement, "reason": &w.Reason, "approver": &w.Approver} {
		if a, ok := content.Attributes[name]; ok {
			*dst, d = dc.String(a)
			diags = append(diags, d...)
			if !d.HasErrors() && *dst == "" {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty " + name,
					Detail: fmt.Sprintf("A waiver needs a %s.", name), Subject: a.Expr.Range().Ptr()})
			}
		}
	}
	if a, ok := content.Attributes["expires"]; ok {
		w.Expires, d = Date(dc, a)
		diags = append(diags, d...)
	}
	return w, diags
}

// Date decodes a YYYY-MM-DD attribute.
func Date(dc *config.DecodeContext, a *hcl.Attribute) (time.Time, hcl.Diagnostics) {
	s, diags := dc.String(a)
	if diags.HasErrors() {
		return time.Time{}, diags
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid date",
			Detail: fmt.Sprintf("The attribute %q must be a date written YYYY-MM-DD, such as \"2027-06-30\"; found %q.", a.Name, s), Subject: a.Expr.Range().Ptr()})
	}
	return t, diags
}

// Requirements returns the guide's requirements for cfg plus the user's
// requirement blocks, and the waivers; it reports a waiver naming an
// unknown requirement.
func Requirements(cfg *config.Config) ([]Requirement, []Waiver, error) {
	reqs := Matrix(cfg.Deployment)
	for _, v := range cfg.Blocks["requirement"] {
		reqs = append(reqs, v.(Requirement))
	}
	var waivers []Waiver
	ids := map[string]bool{}
	for _, r := range reqs {
		ids[r.ID] = true
	}
	for _, v := range cfg.Blocks["waiver"] {
		w := v.(Waiver)
		if !ids[w.Requirement] {
			return nil, nil, fmt.Errorf("%s: waiver %q names the requirement %q, which does not exist (run cloudtest plan to list them)", w.Location, w.ID, w.Requirement)
		}
		waivers = append(waivers, w)
	}
	return reqs, waivers, nil
}
