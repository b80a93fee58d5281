package security

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Check is one check block (or one name of the checks list, with its
// defaults). Which fields apply depends on the kind; see checkSchemas.
type Check struct {
	Kind string

	// tls
	URL, CAFile, ServerName string
	ExpiryDays, MinRSABits  int
	HSTS                    bool

	// headers, auth, cors, exposure
	Paths, AuthPaths, AllowPaths []string
	Identity                     string
	OpenAPI                      string
	ExpiredToken                 string
	Origin                       string
	PathParams                   map[string]string

	// exposure
	Hosts      []string
	Ports      []int
	AllowPorts []int
	portsSet   bool

	// injection
	Params []*Param
	Probes []string
	Sleep  time.Duration

	// rate_limit, default_credentials
	Step        *step.Step
	Attempts    int
	Within      int
	BlockStatus []int
	Pairs       [][2]string

	DeclRange hcl.Range
}

// Param is a parameter the injection check probes.
type Param struct {
	Name, Path, In, Method, Identity string
	// Value is the harmless value of the control request.
	Value     string
	DeclRange hcl.Range
}

var checkKinds = []string{"tls", "headers", "auth", "cors", "exposure", "injection", "rate_limit", "default_credentials"}

var checkSchemas = map[string]*hcl.BodySchema{
	"tls":     {Attributes: []hcl.AttributeSchema{{Name: "url"}, {Name: "ca_file"}, {Name: "server_name"}, {Name: "expiry_days"}, {Name: "min_rsa_bits"}, {Name: "hsts"}}},
	"headers": {Attributes: []hcl.AttributeSchema{{Name: "paths"}, {Name: "auth_paths"}, {Name: "identity"}}},
	"auth": {Attributes: []hcl.AttributeSchema{{Name: "paths"}, {Name: "openapi"}, {Name: "allow"}, {Name: "expired_token"},
		{Name: "path_params"}}},
	"cors":     {Attributes: []hcl.AttributeSchema{{Name: "paths"}, {Name: "origin"}, {Name: "identity"}}},
	"exposure": {Attributes: []hcl.AttributeSchema{{Name: "hosts"}, {Name: "ports"}, {Name: "allow_ports"}, {Name: "paths"}, {Name: "allow_paths"}}},
	"injection": {Attributes: []hcl.AttributeSchema{{Name: "probes"}, {Name: "sleep"}},
		Blocks: []hcl.BlockHeaderSchema{{Type: "parameter", LabelNames: []string{"name"}}}},
	"rate_limit": {Attributes: []hcl.AttributeSchema{{Name: "attempts"}, {Name: "within"}, {Name: "block_status"}},
		Blocks: []hcl.BlockHeaderSchema{step.BlockSchema}},
	"default_credentials": {Attributes: []hcl.AttributeSchema{{Name: "pairs"}},
		Blocks: []hcl.BlockHeaderSchema{step.BlockSchema}},
}

var paramSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "path", Required: true}, {Name: "in"}, {Name: "method"}, {Name: "identity"}, {Name: "value"},
}}

// defaultExposurePaths are debug and admin endpoints that should not answer
// on a production system.
var defaultExposurePaths = []string{
	"/debug/pprof/", "/debug/vars", "/actuator", "/actuator/env", "/.git/HEAD", "/.git/config", "/.env",
	"/metrics", "/admin", "/admin/users", "/server-status", "/phpinfo.php",
}

// defaultPairs are the user/password pairs most often left in place.
var defaultPairs = [][2]string{
	{"admin", "admin"}, {"admin", "password"}, {"admin", "123456"}, {"root", "root"}, {"root", "toor"},
	{"test", "test"}, {"guest", "guest"}, {"user", "user"},
}

var allProbes = []string{"sql", "command", "path_traversal", "xss"}

// defaults fills what a check has when the block does not say.
func (c *Check) defaults() {
	c.ExpiryDays, c.MinRSABits, c.HSTS = 30, 2048, true
	c.Paths = []string{"/"}
	c.Origin = "https://attacker.invalid"
	c.Probes = allProbes
	c.Sleep = 2 * time.Second
	c.Attempts, c.Within = 10, 5
	c.BlockStatus = []int{429}
	c.Pairs = defaultPairs
	switch c.Kind {
	case "auth":
		c.Paths = nil
	case "exposure":
		c.Paths = defaultExposurePaths
	}
}

func decodeCheck(b *hcl.Block, dc *config.DecodeContext) (*Check, hcl.Diagnostics) {
	kind := b.Labels[0]
	sch, ok := checkSchemas[kind]
	if !ok {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Unknown check",
			Detail:  fmt.Sprintf("There is no check %q; the checks are %s.", kind, strings.Join(checkKinds, ", ")),
			Subject: b.LabelRanges[0].Ptr()}}
	}
	c := &Check{Kind: kind, DeclRange: b.DefRange}
	c.defaults()
	content, diags := b.Body.Content(sch)
	var d hcl.Diagnostics
	strs := map[string]*string{"url": &c.URL, "ca_file": &c.CAFile, "server_name": &c.ServerName, "identity": &c.Identity,
		"openapi": &c.OpenAPI, "expired_token": &c.ExpiredToken, "origin": &c.Origin}
	lists := map[string]*[]string{"paths": &c.Paths, "auth_paths": &c.AuthPaths, "allow": &c.AllowPaths,
		"allow_paths": &c.AllowPaths, "hosts": &c.Hosts, "probes": &c.Probes}
	nums := map[string]*int{"expiry_days": &c.ExpiryDays, "min_rsa_bits": &c.MinRSABits, "attempts": &c.Attempts, "within": &c.Within}
	for _, a := range config.SortedAttrs(content.Attributes) {
		switch {
		case strs[a.Name] != nil:
			*strs[a.Name], d = dc.String(a)
		case lists[a.Name] != nil:
			*lists[a.Name], d = dc.Strings(a)
		case nums[a.Name] != nil:
			*nums[a.Name], d = dc.Int(a)
			if !d.HasErrors() && *nums[a.Name] <= 0 {
				d = append(d, positive(a, a.Name))
			}
		case a.Name == "hsts":
			c.HSTS, d = dc.Bool(a)
		case a.Name == "path_params":
			c.PathParams, d = dc.StringMap(a)
		case a.Name == "sleep":
			c.Sleep, d = dc.Duration(a)
			if !d.HasErrors() && c.Sleep.Round(time.Second) > maxSleep {
				d = append(d, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Sleep too long",
					Detail: fmt.Sprintf("The attribute \"sleep\" must be at most %s: a probe waits %s for its answer, which must hold the injected sleep (rounded to whole seconds) and the server's own time; found %s.",
						maxSleep, probeTimeout, c.Sleep),
					Subject: a.Expr.Range().Ptr()})
			}
		case a.Name == "block_status":
			c.BlockStatus, d = ints(dc, a)
			d = append(d, within(a, c.BlockStatus, 100, 599, "an HTTP status")...)
		case a.Name == "allow_ports":
			c.AllowPorts, d = ints(dc, a)
			d = append(d, within(a, c.AllowPorts, 1, 65535, "a port")...)
		case a.Name == "ports":
			c.Ports, d = decodePorts(dc, a)
			c.portsSet = true
		case a.Name == "pairs":
			c.Pairs, d = decodePairs(dc, a)
		}
		diags = append(diags, d...)
	}
	for _, p := range c.Probes {
		if !contains(allProbes, p) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown probe",
				Detail:  fmt.Sprintf("The injection check's probes are %s; found %q.", strings.Join(allProbes, ", "), p),
				Subject: content.Attributes["probes"].Expr.Range().Ptr()})
		}
	}
	var steps []*step.Step
	steps, d = decodeSteps(content.Blocks, dc)
	diags = append(diags, d...)
	for _, pb := range content.Blocks {
		if pb.Type != "parameter" {
			continue
		}
		p, d := decodeParam(pb, dc)
		diags = append(diags, d...)
		c.Params = append(c.Params, p)
	}
	switch kind {
	case "rate_limit", "default_credentials":
		if len(steps) != 1 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Check needs one step",
				Detail:  fmt.Sprintf("Check %q needs exactly one step block: the login attempt it repeats (it may use each.value%s).", kind, map[bool]string{true: ".user and each.value.password", false: ", the attempt's number"}[kind == "default_credentials"]),
				Subject: b.DefRange.Ptr()})
		} else {
			c.Step = steps[0]
		}
		if kind == "rate_limit" && c.Within > c.Attempts && c.Attempts > 0 && c.Within > 0 {
			detail := fmt.Sprintf("rate_limit: within (%d) must not exceed attempts (%d).", c.Within, c.Attempts)
			subject := b.DefRange.Ptr()
			if w, ok := content.Attributes["within"]; ok {
				subject = w.Expr.Range().Ptr()
			} else {
				detail = fmt.Sprintf("rate_limit: within defaults to %d, which must not exceed attempts (%d): set within to at most %d, or raise attempts.", c.Within, c.Attempts, c.Attempts)
				if at, ok := content.Attributes["attempts"]; ok {
					subject = at.Expr.Range().Ptr()
				}
			}
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value", Detail: detail, Subject: subject})
		}
	case "injection":
		if len(c.Params) == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Injection check without parameters",
				Detail:  "The injection check probes the parameters you name: add parameter \"q\" { path = \"/search\", in = \"query\" }.",
				Subject: b.DefRange.Ptr()})
		}
	case "auth":
		if len(c.Paths) == 0 && c.OpenAPI == "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Auth check without endpoints",
				Detail:  "The auth check needs paths = [\"/api/accounts\", ...] or openapi = \"openapi.json\" (the endpoints to try without credentials).",
				Subject: b.DefRange.Ptr()})
		}
	}
	return c, diags
}

func decodeParam(b *hcl.Block, dc *config.DecodeContext) (*Param, hcl.Diagnostics) {
	content, diags := b.Body.Content(paramSchema)
	p := &Param{Name: b.Labels[0], In: "query", Method: "GET", Value: "1", DeclRange: b.DefRange}
	var d hcl.Diagnostics
	for name, dst := range map[string]*string{"path": &p.Path, "method": &p.Method, "identity": &p.Identity, "value": &p.Value} {
		if a, ok := content.Attributes[name]; ok {
			*dst, d = dc.String(a)
			diags = append(diags, d...)
		}
	}
	if a, ok := content.Attributes["in"]; ok {
		p.In, d = dc.OneOf(a, "query", "form", "json")
		diags = append(diags, d...)
	}
	p.Method = strings.ToUpper(p.Method)
	return p, diags
}

// maxPorts bounds a sweep per host.
const maxPorts = 1024

// maxSleep bounds an injected sleep so that the delayed answer still comes
// within the probe's timeout.
const maxSleep = probeTimeout - 2*time.Second

// decodePorts reads a list of ports and ranges: [8080, "9000-9010"].
func decodePorts(dc *config.DecodeContext, a *hcl.Attribute) ([]int, hcl.Diagnostics) {
	v, diags := dc.Value(a)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := func(what string) hcl.Diagnostics {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid ports",
			Detail:  fmt.Sprintf("The attribute \"ports\" must list ports and ranges, such as [8080, \"9000-9010\"]; %s.", what),
			Subject: a.Expr.Range().Ptr()})
	}
	if !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil, bad("found " + v.Type().FriendlyName())
	}
	var out []int
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		switch {
		case e.Type() == cty.Number:
			bf := e.AsBigFloat()
			n, _ := bf.Int64()
			if !bf.IsInt() || n < 1 || n > 65535 {
				return nil, bad(fmt.Sprintf("port %s is not a whole number between 1 and 65535", bf.Text('g', -1)))
			}
			out = append(out, int(n))
		case e.Type() == cty.String:
			lo, hi, ok := strings.Cut(e.AsString(), "-")
			l, err1 := strconv.Atoi(strings.TrimSpace(lo))
			h, err2 := strconv.Atoi(strings.TrimSpace(hi))
			if !ok || err1 != nil || err2 != nil || l > h {
				return nil, bad(fmt.Sprintf("found %q", e.AsString()))
			}
			// Checked before the range is expanded: "1-2000000000" must
			// not take the memory of two billion ports first.
			if l < 1 || h > 65535 {
				return nil, bad(fmt.Sprintf("the range %q is not within 1-65535", e.AsString()))
			}
			if len(out)+(h-l+1) > maxPorts {
				return nil, bad(fmt.Sprintf("a sweep is bounded to %d ports per host; the list asks for more", maxPorts))
			}
			for p := l; p <= h; p++ {
				out = append(out, p)
			}
		default:
			return nil, bad("found " + e.Type().FriendlyName())
		}
		if len(out) > maxPorts {
			return nil, bad(fmt.Sprintf("a sweep is bounded to %d ports per host", maxPorts))
		}
	}
	for _, p := range out {
		if p < 1 || p > 65535 {
			return nil, bad(fmt.Sprintf("port %d is not between 1 and 65535", p))
		}
	}
	return out, diags
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

// decodePairs reads [["admin", "admin"], ...].
func decodePairs(dc *config.DecodeContext, a *hcl.Attribute) ([][2]string, hcl.Diagnostics) {
	v, diags := dc.Value(a)
	if diags.HasErrors() {
		return nil, diags
	}
	bad := append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid pairs",
		Detail:  "The attribute \"pairs\" must be a list of [user, password] pairs, such as [[\"admin\", \"admin\"], [\"root\", \"root\"]].",
		Subject: a.Expr.Range().Ptr()})
	if !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return nil, bad
	}
	var out [][2]string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.CanIterateElements() || e.LengthInt() != 2 {
			return nil, bad
		}
		var pair [2]string
		i := 0
		for it2 := e.ElementIterator(); it2.Next(); i++ {
			_, s := it2.Element()
			if s.IsNull() || s.Type() != cty.String {
				return nil, bad
			}
			pair[i] = s.AsString()
		}
		out = append(out, pair)
	}
	return out, diags
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
