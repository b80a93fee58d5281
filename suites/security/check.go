package security

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// Check is one check of a suite: a check block, or a name of the checks
// list with its kind's defaults. What it holds beyond its kind is the
// kind's own (see checkKind).
type Check struct {
	Kind      string
	DeclRange hcl.Range
	settings  settings
}

// settings are one kind of check's attributes, filled with the kind's
// defaults before its block is decoded over them, and the kind's run.
type settings interface {
	// decode reads the check's block; content is the block's body read
	// with the kind's schema.
	decode(b *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics
	// run sends the check's requests and returns its findings; an error
	// means the check could not be carried out.
	run(ctx context.Context, ss *session) ([]result.Finding, error)
}

// actsAs is a check whose settings name an identity, which the suite must
// declare.
type actsAs interface {
	identity() string
}

// checkKind is one kind of check as the suite's decoder and runner know
// it. Each kind's file registers its own from init.
type checkKind struct {
	name string
	// rank places the kind in the list of checks that messages give.
	rank   int
	schema *hcl.BodySchema
	// needs, when set, is what the check has nothing to try without: it
	// cannot be named in checks = [...] and must be a block.
	needs string
	// untargeted is a check that may be given its own address (url,
	// hosts), so that a suite without a target can run it.
	untargeted bool
	// defaults returns the kind's settings as they are when the block
	// does not say otherwise.
	defaults func() settings
}

// kinds are the registered kinds, by rank.
var kinds []*checkKind

// register adds a kind of check; a name or a rank taken twice is a
// programming error, found by any test that loads the package.
func register(k checkKind) {
	for _, o := range kinds {
		if o.name == k.name || o.rank == k.rank {
			panic(fmt.Sprintf("security: check %q registered with the name or rank (%d) of check %q", k.name, k.rank, o.name))
		}
	}
	kinds = append(kinds, &k)
	slices.SortFunc(kinds, func(a, b *checkKind) int { return a.rank - b.rank })
}

func kindNamed(name string) *checkKind {
	for _, k := range kinds {
		if k.name == name {
			return k
		}
	}
	return nil
}

// kindList is the checks' names for a message, in rank order.
func kindList() string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return strings.Join(names, ", ")
}

// newCheck is a check of kind k with the kind's defaults.
func newCheck(k *checkKind, at hcl.Range) *Check {
	return &Check{Kind: k.name, DeclRange: at, settings: k.defaults()}
}

func decodeCheck(b *hcl.Block, dc *config.DecodeContext) (*Check, hcl.Diagnostics) {
	k := kindNamed(b.Labels[0])
	if k == nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown check",
			Detail:  fmt.Sprintf("There is no check %q; the checks are %s.", b.Labels[0], kindList()),
			Subject: b.LabelRanges[0].Ptr()}}
	}
	c := newCheck(k, b.DefRange)
	content, diags := b.Body.Content(k.schema)
	return c, append(diags, c.settings.decode(b, content, dc)...)
}

// attrs decode a check's attributes, one function a name. They run in the
// order the attributes are written, so that diagnostics come in that order.
type attrs map[string]func(*hcl.Attribute) hcl.Diagnostics

func (m attrs) decode(content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, a := range config.SortedAttrs(content.Attributes) {
		if f, ok := m[a.Name]; ok {
			diags = append(diags, f(a)...)
		}
	}
	return diags
}

func stringAttr(dc *config.DecodeContext, dst *string) func(*hcl.Attribute) hcl.Diagnostics {
	return func(a *hcl.Attribute) (d hcl.Diagnostics) {
		*dst, d = dc.String(a)
		return d
	}
}

func stringsAttr(dc *config.DecodeContext, dst *[]string) func(*hcl.Attribute) hcl.Diagnostics {
	return func(a *hcl.Attribute) (d hcl.Diagnostics) {
		*dst, d = dc.Strings(a)
		return d
	}
}

// positiveAttr decodes a whole number above zero.
func positiveAttr(dc *config.DecodeContext, dst *int) func(*hcl.Attribute) hcl.Diagnostics {
	return func(a *hcl.Attribute) (d hcl.Diagnostics) {
		*dst, d = dc.Int(a)
		if !d.HasErrors() && *dst <= 0 {
			d = append(d, positive(a, a.Name))
		}
		return d
	}
}

// intsWithin decodes a number or a list of numbers, each between lo and hi.
func intsWithin(dc *config.DecodeContext, dst *[]int, lo, hi int, what string) func(*hcl.Attribute) hcl.Diagnostics {
	return func(a *hcl.Attribute) (d hcl.Diagnostics) {
		*dst, d = ints(dc, a)
		return append(d, within(a, *dst, lo, hi, what)...)
	}
}

// within refuses a number of vals outside lo..hi (a negative status or
// port is accepted by the type but can never match).
func within(a *hcl.Attribute, vals []int, lo, hi int, what string) hcl.Diagnostics {
	for _, v := range vals {
		if v < lo || v > hi {
			return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail:  fmt.Sprintf("The attribute %q lists %d, which is not %s: each value must be between %d and %d.", a.Name, v, what, lo, hi),
				Subject: a.Expr.Range().Ptr()}}
		}
	}
	return nil
}

func contains[T comparable](s []T, v T) bool {
	return slices.Contains(s, v)
}
