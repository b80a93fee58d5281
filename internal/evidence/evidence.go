// Package evidence verifies what a cloud vendor hands over: the file exists
// and its sha256 digest matches, the run date falls within its validity
// window, its detached signature verifies, and its scope covers what the
// block claims. Verified files are kept in the run directory by digest.
package evidence

import (
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/deploy"
)

// Kinds the guide names; other identifiers are accepted with a warning.
var Kinds = []string{"design_doc", "test_plan", "certification", "test_report", "pentest_report",
	"hardening_guide", "product_manual", "best_practice_guide", "drill_report", "filing"}

// Evidence is a decoded evidence block.
type Evidence struct {
	Name        string
	Components  []string
	Kind        string
	Categories  []string
	Layers      []string
	File        string // absolute
	SHA256      string
	Issuer      string
	Issued      time.Time
	ValidUntil  time.Time
	Signature   string // absolute path of a detached signature, or ""
	PublicKey   string // PEM public key file
	Certificate string // PEM X.509 certificate file
	Meta        map[string]string
	DeclRange   hcl.Range
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "component"}, {Name: "components"}, {Name: "kind", Required: true},
		{Name: "file", Required: true}, {Name: "sha256", Required: true}, {Name: "issuer"},
		{Name: "issued"}, {Name: "valid_until"}, {Name: "signature"}, {Name: "public_key"},
		{Name: "certificate"}, {Name: "meta"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "covers"}},
}

var coversSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "categories"}, {Name: "layers"}}}

// Block is the loader's block kind for evidence blocks.
var Block = config.BlockKind{Type: "evidence", LabelNames: []string{"name"}, Decode: decode, Schema: func() *config.Schema {
	return &config.Schema{Bodies: []*hcl.BodySchema{schema}, Blocks: map[string]*config.Schema{"covers": config.Attrs(coversSchema)}}
}}

func decode(b *hcl.Block, dc *config.DecodeContext) (any, hcl.Diagnostics) {
	content, diags := b.Body.Content(schema)
	e := &Evidence{Name: b.Labels[0], DeclRange: b.DefRange}
	var d hcl.Diagnostics
	str := func(name string) string {
		a, ok := content.Attributes[name]
		if !ok {
			return ""
		}
		s, d := dc.String(a)
		diags = append(diags, d...)
		return s
	}
	path := func(name string) string {
		p := str(name)
		if p != "" && !isAbs(p) {
			p = join(dc.Config().Dir, p)
		}
		return p
	}
	e.Components, d = decodeComponents(content, dc)
	diags = append(diags, d...)
	if len(e.Components) == 0 && !diags.HasErrors() {
		diags = append(diags, config.Required(b, "component", `component = "mobile-channel"`))
	}
	if a, ok := content.Attributes["kind"]; ok {
		e.Kind, d = dc.String(a)
		diags = append(diags, d...)
		if !d.HasErrors() && !slices.Contains(Kinds, e.Kind) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Evidence kind of your own",
				Detail:  fmt.Sprintf("%q is not one of the guide's kinds (%v); it is kept, but no requirement of the guide asks for it.", e.Kind, Kinds),
				Subject: a.Expr.Range().Ptr()})
		}
	}
	e.File, e.SHA256, e.Issuer = path("file"), str("sha256"), str("issuer")
	e.Signature, e.PublicKey, e.Certificate = path("signature"), path("public_key"), path("certificate")
	if a, ok := content.Attributes["issued"]; ok {
		e.Issued, d = deploy.Date(dc, a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["valid_until"]; ok {
		e.ValidUntil, d = deploy.Date(dc, a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["meta"]; ok {
		e.Meta, d = dc.StringMap(a)
		diags = append(diags, d...)
	}
	if e.Signature != "" && (e.PublicKey == "") == (e.Certificate == "") {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Signature without one key",
			Detail: "A signature is checked against exactly one of public_key or certificate.", Subject: b.DefRange.Ptr()})
	}
	for _, cb := range content.Blocks {
		diags = append(diags, e.decodeCovers(cb, dc)...)
	}
	return e, diags
}

// decodeComponents reads component and components: the components the
// evidence is for.
func decodeComponents(content *hcl.BodyContent, dc *config.DecodeContext) ([]string, hcl.Diagnostics) {
	var out []string
	var diags hcl.Diagnostics
	if a, ok := content.Attributes["component"]; ok {
		c, d := dc.String(a)
		diags = append(diags, d...)
		out = []string{c}
	}
	if a, ok := content.Attributes["components"]; ok {
		cs, d := dc.Strings(a)
		diags = append(diags, d...)
		out = append(out, cs...)
	}
	return out, diags
}

// decodeCovers reads a covers block: the categories and layers the
// evidence stands for, each one the guide knows.
func (e *Evidence) decodeCovers(cb *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	cc, diags := cb.Body.Content(coversSchema)
	if a, ok := cc.Attributes["categories"]; ok {
		e.Categories = knownStrings(a, dc, "category", "categories", deploy.Categories, &diags)
	}
	if a, ok := cc.Attributes["layers"]; ok {
		e.Layers = knownStrings(a, dc, "layer", "layers", config.Layers, &diags)
	}
	return diags
}

// knownStrings reads a list of strings each of which must be one of known,
// adding a diagnostic on the attribute for each that is not.
func knownStrings(a *hcl.Attribute, dc *config.DecodeContext, one, many string, known []string, diags *hcl.Diagnostics) []string {
	vs, d := dc.Strings(a)
	*diags = append(*diags, d...)
	for _, v := range vs {
		if !slices.Contains(known, v) {
			*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: fmt.Sprintf("Unknown %s %q; the %s are %v.", one, v, many, known), Subject: a.Expr.Range().Ptr()})
		}
	}
	return vs
}

// All returns the evidence blocks of cfg.
func All(cfg *config.Config) []*Evidence {
	var out []*Evidence
	for _, v := range cfg.Blocks["evidence"] {
		out = append(out, v.(*Evidence))
	}
	return out
}
