package security

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/cloudtest/cloudtest/internal/result"
)

const refSecureHeaders = "OWASP Secure Headers Project"

// versionLike matches a product version in a Server or X-Powered-By header.
var versionLike = regexp.MustCompile(`\d+\.\d+`)

// checkHeaders asks each path (and each authenticated path, as the check's
// identity) and reports each missing protection once, naming the first
// path it was missing on and the others.
func checkHeaders(ctx context.Context, ss *session, c *Check) ([]result.Finding, error) {
	type seen struct {
		f     result.Finding
		other []string
	}
	var order []string
	byID := map[string]*seen{}
	add := func(f result.Finding) {
		if s, ok := byID[f.ID]; ok {
			s.other = append(s.other, f.Where)
			return
		}
		byID[f.ID] = &seen{f: f}
		order = append(order, f.ID)
	}
	judge := func(path string, a *answer, authenticated bool) {
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
		if authenticated && a.status >= 200 && a.status < 300 {
			cc := strings.ToLower(h.Get("Cache-Control"))
			if !strings.Contains(cc, "no-store") {
				add(finding("headers", "cache-control-missing", "medium", "Authenticated answer may be cached", path,
					fmt.Sprintf("An authenticated answer has Cache-Control %q; without no-store, shared caches and browsers may keep customer data.", h.Get("Cache-Control")),
					"OWASP ASVS 8.2.1; CWE-525", a))
			}
		}
	}
	for _, p := range c.Paths {
		a, err := ss.get(ctx, p, nil)
		if err != nil {
			return nil, err
		}
		judge(p, a, false)
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
			judge(p, a, true)
		}
	}
	out := make([]result.Finding, 0, len(order))
	for _, id := range order {
		s := byID[id]
		if len(s.other) > 0 {
			s.f.Detail += " Also on: " + strings.Join(s.other, ", ") + "."
		}
		out = append(out, s.f)
	}
	return out, nil
}
