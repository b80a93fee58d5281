package security

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Kind is the security block kind, for the loader's list of kinds.
var Kind = runner.NewKind("security", decode, Schema)

// Suite is a decoded security block.
type Suite struct {
	config.SuiteCommon
	Scope      Scope
	Checks     []*Check
	Identities []*Identity
	Waivers    []*Waiver
	// Expect lists the finding ids that must be found: the suite is then a
	// negative control against a target with planted weaknesses.
	Expect      []string
	ExpectRange hcl.Range
	// FailOn is the lowest severity of an open finding that fails the suite.
	FailOn string
	Drills []*Drill
}

// A Suite can run: the compiler checks what the plan needs.
var _ runner.Suite = (*Suite)(nil)

// Scope is where traffic may go, and how much of it.
type Scope struct {
	Allow       []string
	MaxRequests int
	Rate        float64
	DeclRange   hcl.Range
}

// Identity is a user the checks act as: login steps whose captures fill
// the headers that carry the credential.
type Identity struct {
	Name    string
	Steps   []*step.Step
	Headers hcl.Expression // late: may use capture
	// Owns are paths of objects that belong to this identity: no other
	// identity may read them (object-level authorization).
	Owns      []string
	DeclRange hcl.Range
}

// Waiver accepts a finding by id (and optionally where), with a reason, an
// approver and an expiry date.
type Waiver struct {
	Finding, Where, Reason, Approver string
	Expires                          time.Time
	DeclRange                        hcl.Range
}

// Severities from the least to the most serious.
var Severities = []string{"info", "low", "medium", "high", "critical"}

func severityRank(s string) int { return slices.Index(Severities, s) }

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "checks"}, {Name: "expect_findings"}, {Name: "fail_on"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "scope"},
		{Type: "check", LabelNames: []string{"kind"}},
		{Type: "identity", LabelNames: []string{"name"}},
		{Type: "waiver", LabelNames: []string{"finding"}},
		{Type: "drill", LabelNames: []string{"name"}},
	},
}

var scopeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "allow", Required: true}, {Name: "max_requests"}, {Name: "rate"},
}}

var identitySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "headers", Required: true}, {Name: "owns"}},
	Blocks:     []hcl.BlockHeaderSchema{step.BlockSchema},
}

var waiverSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "where"}, {Name: "reason", Required: true}, {Name: "approver", Required: true}, {Name: "expires", Required: true},
}}

func decode(common *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (runner.Suite, hcl.Diagnostics) {
	s := &Suite{SuiteCommon: *common, FailOn: "low"}
	content, diags := body.Content(schema)
	scopes, d := s.decodeBlocks(content.Blocks, dc)
	diags = append(diags, d...)
	if a, ok := content.Attributes["checks"]; ok {
		diags = append(diags, s.decodeCheckList(a, dc)...)
	}
	if a, ok := content.Attributes["expect_findings"]; ok {
		diags = append(diags, s.decodeExpect(a, dc)...)
	}
	if a, ok := content.Attributes["fail_on"]; ok {
		s.FailOn, d = dc.OneOf(a, Severities...)
		diags = append(diags, d...)
	}
	return s, append(diags, s.validate(scopes)...)
}

// decodeBlocks decodes the suite's blocks and returns how many scopes it
// declares.
func (s *Suite) decodeBlocks(blocks hcl.Blocks, dc *config.DecodeContext) (int, hcl.Diagnostics) {
	var diags, d hcl.Diagnostics
	scopes := 0
	for _, b := range blocks {
		switch b.Type {
		case "scope":
			scopes++
			d = decodeScope(&s.Scope, b, dc)
		case "check":
			var c *Check
			c, d = decodeCheck(b, dc)
			if c != nil {
				d = append(d, s.addCheck(c, b)...)
			}
		case "identity":
			var id *Identity
			id, d = decodeIdentity(b, dc)
			s.Identities = append(s.Identities, id)
		case "waiver":
			var w *Waiver
			w, d = decodeWaiver(b, dc)
			s.Waivers = append(s.Waivers, w)
		case "drill":
			var dr *Drill
			dr, d = decodeDrill(b, dc)
			s.Drills = append(s.Drills, dr)
		}
		diags = append(diags, d...)
	}
	return scopes, diags
}

// addCheck adds the check of block b, unless its kind is declared already.
func (s *Suite) addCheck(c *Check, b *hcl.Block) hcl.Diagnostics {
	if prev := s.check(c.Kind); prev != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Duplicate check",
			Detail:  fmt.Sprintf("A check %q is already declared at %s; list everything it should cover in one block.", c.Kind, config.Location(prev.DeclRange)),
			Subject: b.DefRange.Ptr()}}
	}
	s.Checks = append(s.Checks, c)
	return nil
}

func (s *Suite) check(kind string) *Check {
	for _, c := range s.Checks {
		if c.Kind == kind {
			return c
		}
	}
	return nil
}

// decodeCheckList adds the checks named in checks = [...], with their
// defaults, that no block declares.
func (s *Suite) decodeCheckList(a *hcl.Attribute, dc *config.DecodeContext) hcl.Diagnostics {
	names, diags := dc.Strings(a)
	for _, n := range names {
		k := kindNamed(n)
		switch {
		case k == nil:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown check",
				Detail:  fmt.Sprintf("The attribute \"checks\" names %q; the checks are %s.", n, kindList()),
				Subject: a.Expr.Range().Ptr()})
		case s.check(n) != nil:
		case k.needs != "":
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Check needs a block",
				Detail:  fmt.Sprintf("The check %q has nothing to try without %s: write it as a check %q { ... } block.", n, k.needs, n),
				Subject: a.Expr.Range().Ptr()})
		default:
			s.Checks = append(s.Checks, newCheck(k, a.Expr.Range()))
		}
	}
	return diags
}

func (s *Suite) decodeExpect(a *hcl.Attribute, dc *config.DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	s.Expect, diags = dc.Strings(a)
	s.ExpectRange = a.Expr.Range()
	for _, id := range s.Expect {
		if !strings.Contains(id, "/") {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid finding id",
				Detail:  fmt.Sprintf("expect_findings names %q; a finding id is \"check/rule\", such as \"headers/csp-missing\".", id),
				Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}

// validate checks what holds across blocks: one scope, something to run,
// identities named once and declared where checks name them, a target for
// the checks that send to it.
func (s *Suite) validate(scopes int) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if scopes != 1 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Security suite needs one scope block",
			Detail:  fmt.Sprintf("Security suite %q must declare exactly one scope { allow = [\"127.0.0.1\"] } before it sends anything; it has %d.", s.Name, scopes),
			Subject: s.DeclRange.Ptr()})
	}
	if len(s.Checks) == 0 && len(s.Drills) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Security suite without checks or drills",
			Detail:  fmt.Sprintf("Security suite %q needs checks = [...], a check block or a drill block.", s.Name),
			Subject: s.DeclRange.Ptr()})
	}
	seenID := map[string]bool{}
	for _, id := range s.Identities {
		if seenID[id.Name] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate identity",
				Detail: fmt.Sprintf("Security suite %q has two identities named %q.", s.Name, id.Name), Subject: id.DeclRange.Ptr()})
		}
		seenID[id.Name] = true
	}
	for _, c := range s.Checks {
		if as, ok := c.settings.(actsAs); ok && as.identity() != "" && !seenID[as.identity()] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown identity",
				Detail: fmt.Sprintf("Check %q names the identity %q; declare it with identity %q { ... }.", c.Kind, as.identity(), as.identity()), Subject: c.DeclRange.Ptr()})
		}
		if !kindNamed(c.Kind).untargeted && s.Target == "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Check without a target",
				Detail: fmt.Sprintf("Check %q sends requests to the suite's target; give the suite target = target.NAME.", c.Kind), Subject: c.DeclRange.Ptr()})
		}
	}
	return diags
}

func decodeScope(sc *Scope, b *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(scopeSchema)
	sc.DeclRange = b.DefRange
	sc.MaxRequests, sc.Rate = 2000, 200
	var d hcl.Diagnostics
	if a, ok := content.Attributes["allow"]; ok {
		sc.Allow, d = dc.Strings(a)
		diags = append(diags, d...)
		if !d.HasErrors() && len(sc.Allow) == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty scope",
				Detail: "scope.allow must list at least one host, address or network (CIDR), such as [\"127.0.0.1\"].", Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["max_requests"]; ok {
		sc.MaxRequests, d = dc.Int(a)
		diags = append(diags, d...)
		if !d.HasErrors() && sc.MaxRequests <= 0 {
			diags = append(diags, positive(a, "max_requests"))
		}
	}
	if a, ok := content.Attributes["rate"]; ok {
		sc.Rate, d = dc.Float(a)
		diags = append(diags, d...)
		if !d.HasErrors() && sc.Rate <= 0 {
			diags = append(diags, positive(a, "rate"))
		}
		if !d.HasErrors() && math.IsInf(sc.Rate, 0) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: "The attribute \"rate\" is too large to be a number of requests a second.", Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}

func positive(a *hcl.Attribute, name string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
		Detail: fmt.Sprintf("The attribute %q must be above zero.", name), Subject: a.Expr.Range().Ptr()}
}

// decodeSteps decodes step blocks for a security suite: any step kind but
// sql, whose drivers open their own connections where the scope guard
// cannot see them.
func decodeSteps(blocks hcl.Blocks, dc *config.DecodeContext, extraRoots ...string) ([]*step.Step, hcl.Diagnostics) {
	var out []*step.Step
	var diags hcl.Diagnostics
	for _, b := range blocks {
		if b.Type != "step" {
			continue
		}
		st, d := step.DecodeWith(b, dc, extraRoots...)
		diags = append(diags, d...)
		if st == nil {
			continue
		}
		if st.SQL != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "sql step in a security suite",
				Detail:  fmt.Sprintf("Step %q is a sql step; database drivers open their own connections, which the scope guard cannot hold to the scope. Use http or tcp steps here.", st.Name),
				Subject: b.DefRange.Ptr()})
			continue
		}
		out = append(out, st)
	}
	return out, diags
}

func decodeIdentity(b *hcl.Block, dc *config.DecodeContext) (*Identity, hcl.Diagnostics) {
	content, diags := b.Body.Content(identitySchema)
	id := &Identity{Name: b.Labels[0], DeclRange: b.DefRange}
	var d hcl.Diagnostics
	id.Steps, d = decodeSteps(content.Blocks, dc)
	diags = append(diags, d...)
	if a, ok := content.Attributes["headers"]; ok {
		id.Headers, d = dc.Late(a.Expr, "capture")
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["owns"]; ok {
		id.Owns, d = dc.Strings(a)
		diags = append(diags, d...)
	}
	return id, diags
}

func decodeWaiver(b *hcl.Block, dc *config.DecodeContext) (*Waiver, hcl.Diagnostics) {
	content, diags := b.Body.Content(waiverSchema)
	w := &Waiver{Finding: b.Labels[0], DeclRange: b.DefRange}
	if !strings.Contains(w.Finding, "/") {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid finding id",
			Detail:  fmt.Sprintf("waiver %q: a finding id is \"check/rule\", such as \"headers/csp-missing\".", w.Finding),
			Subject: b.LabelRanges[0].Ptr()})
	}
	var d hcl.Diagnostics
	for name, dst := range map[string]*string{"where": &w.Where, "reason": &w.Reason, "approver": &w.Approver} {
		if a, ok := content.Attributes[name]; ok {
			*dst, d = dc.String(a)
			diags = append(diags, d...)
			if !d.HasErrors() && *dst == "" && name != "where" {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty " + name,
					Detail: fmt.Sprintf("A waiver of a finding needs a %s.", name), Subject: a.Expr.Range().Ptr()})
			}
		}
	}
	if a, ok := content.Attributes["expires"]; ok {
		s, d := dc.String(a)
		diags = append(diags, d...)
		if !d.HasErrors() {
			t, err := time.Parse("2006-01-02", s)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid date",
					Detail: fmt.Sprintf("The attribute \"expires\" must be a date written YYYY-MM-DD, such as \"2027-06-30\"; found %q.", s), Subject: a.Expr.Range().Ptr()})
			}
			w.Expires = t
		}
	}
	return w, diags
}

// ints decodes a number or a list of numbers.
func ints(dc *config.DecodeContext, a *hcl.Attribute) ([]int, hcl.Diagnostics) {
	v, diags := dc.Value(a)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Wrong type",
		Detail: fmt.Sprintf("The attribute %q must be a whole number or a list of whole numbers, such as [429, 403].", a.Name), Subject: a.Expr.Range().Ptr()}
	// A fraction (429.5) is refused, not cut to a whole number.
	notInt := func(e cty.Value) bool {
		return e.IsNull() || !e.IsKnown() || e.Type() != cty.Number || !e.AsBigFloat().IsInt()
	}
	if v.Type() == cty.Number {
		if notInt(v) {
			if v.IsKnown() && !v.IsNull() {
				bad.Detail = fmt.Sprintf("The attribute %q must be a whole number or a list of whole numbers, such as [429, 403]; found %s.", a.Name, v.AsBigFloat().Text('g', -1))
			}
			return nil, append(diags, bad)
		}
		f, _ := v.AsBigFloat().Int64()
		return []int{int(f)}, diags
	}
	if !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil, append(diags, bad)
	}
	var out []int
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if notInt(e) {
			if e.Type() == cty.Number && e.IsKnown() && !e.IsNull() {
				bad.Detail = fmt.Sprintf("The attribute %q must be a whole number or a list of whole numbers, such as [429, 403]; found %s.", a.Name, e.AsBigFloat().Text('g', -1))
			}
			return nil, append(diags, bad)
		}
		n, _ := e.AsBigFloat().Int64()
		out = append(out, int(n))
	}
	return out, diags
}
