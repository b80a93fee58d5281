package security

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

const refSecureHeaders = "OWASP Secure Headers Project"

// versionLike matches a product version in a Server or X-Powered-By header.
var versionLike = regexp.MustCompile(`\d+\.\d+`)

// headersCheck asks each path (and each authenticated path, as the check's
// identity) and reports each missing protection once, naming the first
// path it was missing on and the others.
type headersCheck struct {
	Paths, AuthPaths []string
	Identity         string
}

var headersSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "paths"}, {Name: "auth_paths"}, {Name: "identity"}}}

func init() {
	register(checkKind{name: "headers", rank: 20, schema: headersSchema,
		defaults: func() settings { return &headersCheck{Paths: []string{"/"}} }})
}

func (c *headersCheck) decode(_ *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics {
	return attrs{"paths": stringsAttr(dc, &c.Paths), "auth_paths": stringsAttr(dc, &c.AuthPaths), "identity": stringAttr(dc, &c.Identity)}.decode(content)
}

func (c *headersCheck) identity() string { return c.Identity }

func (c *headersCheck) run(ctx context.Context, ss *session) ([]result.Finding, error) {
	var found onceEach
	for _, p := range c.Paths {
		a, err := ss.get(ctx, p, nil)
		if err != nil {
			return nil, err
		}
		found.add(judgeHeaders(p, a, false)...)
	}
	if len(c.AuthPaths) > 0 {
		hdr, err := ss.identity(c.Identity)
		if err != nil {
			return nil, err
		}
		for _, p := range c.AuthPaths {
			a, err := ss.get(ctx, p, hdr)
			if err != nil {
				return nil, err
			}
			if a.status == http.StatusUnauthorized {
				return nil, fmt.Errorf("%s answered 401 to the identity's credentials; the authenticated headers cannot be judged", p)
			}
			found.add(judgeHeaders(p, a, true)...)
		}
	}
	return found.list(), nil
}

// onceEach keeps the first finding of each id, and where the others were.
type onceEach struct {
	order []string
	byID  map[string]*seenAlso
}

type seenAlso struct {
	f     result.Finding
	other []string
}

func (o *onceEach) add(fs ...result.Finding) {
	if o.byID == nil {
		o.byID = map[string]*seenAlso{}
	}
	for _, f := range fs {
		if s, ok := o.byID[f.ID]; ok {
			s.other = append(s.other, f.Where)
			continue
		}
		o.byID[f.ID] = &seenAlso{f: f}
		o.order = append(o.order, f.ID)
	}
}

// list is the findings in the order first found, each naming the other
// places it was found at.
func (o *onceEach) list() []result.Finding {
	out := make([]result.Finding, 0, len(o.order))
	for _, id := range o.order {
		s := o.byID[id]
		if len(s.other) > 0 {
			s.f.Detail += " Also on: " + strings.Join(s.other, ", ") + "."
		}
		out = append(out, s.f)
	}
	return out
}

// judgeHeaders returns what the answer to path lacks.
func judgeHeaders(path string, a *answer, authenticated bool) []result.Finding {
	var out []result.Finding
	add := func(f result.Finding) { out = append(out, f) }
	h := a.header
	csp := h.Get("Content-Security-Policy")
	if csp == "" {
		add(finding("headers", "csp-missing", "medium", "No Content-Security-Policy", path,
			"The answer has no Content-Security-Policy header, so a browser runs any script an attacker manages to inject.",
			refSecureHeaders+"; CWE-693", a))
	}
	if !strings.EqualFold(strings.TrimSpace(h.Get("X-Content-Type-Options")), "nosniff") {
		add(finding("headers", "nosniff-missing", "low", "No X-Content-Type-Options: nosniff", path,
			"Without nosniff a browser may guess the type of a response and run it as a script.", refSecureHeaders+"; CWE-693", a))
	}
	xfo := strings.ToUpper(strings.TrimSpace(h.Get("X-Frame-Options")))
	if xfo != "DENY" && xfo != "SAMEORIGIN" && !strings.Contains(csp, "frame-ancestors") {
		add(finding("headers", "framing-allowed", "medium", "Pages may be framed (clickjacking)", path,
			"Neither X-Frame-Options (DENY or SAMEORIGIN) nor a CSP frame-ancestors directive forbids framing.", refSecureHeaders+"; CWE-1021", a))
	}
	if h.Get("Referrer-Policy") == "" {
		add(finding("headers", "referrer-policy-missing", "low", "No Referrer-Policy", path,
			"Without a Referrer-Policy, URLs (which may carry identifiers) leak to other sites in the Referer header.", refSecureHeaders+"; CWE-200", a))
	}
	for _, name := range []string{"Server", "X-Powered-By", "X-AspNet-Version"} {
		if v := h.Get(name); v != "" && (name != "Server" || versionLike.MatchString(v)) {
			add(finding("headers", "version-disclosure", "low", "Product and version disclosed", path,
				fmt.Sprintf("The %s header says %q, which tells an attacker which known vulnerabilities to try.", name, v),
				"OWASP WSTG-INFO-02; CWE-200", a))
			break
		}
	}
	if authenticated && a.status >= 200 && a.status < 300 && !strings.Contains(strings.ToLower(h.Get("Cache-Control")), "no-store") {
		add(finding("headers", "cache-control-missing", "medium", "Authenticated answer may be cached", path,
			fmt.Sprintf("An authenticated answer has Cache-Control %q; without no-store, shared caches and browsers may keep customer data.", h.Get("Cache-Control")),
			"OWASP ASVS 8.2.1; CWE-525", a))
	}
	return out
}
