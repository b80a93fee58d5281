package security

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

const refRedirect = "RFC 6797 §7.2; OWASP ASVS 9.1.1; CWE-319"

// redirectCheck asks each path over plain HTTP and expects a redirect to
// the same host and path over https: a customer who types the bank's
// address without https:// must not be served, nor sent elsewhere, in
// clear text.
type redirectCheck struct {
	// URL is the plain-HTTP address; by default the target's (on port 80
	// when the target is https).
	URL   string
	Paths []string
}

var redirectSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "url"}, {Name: "paths"}}}

func init() {
	register(checkKind{name: "redirect_to_https", rank: 90, schema: redirectSchema, untargeted: true,
		defaults: func() settings { return &redirectCheck{Paths: []string{"/"}} }})
}

func (c *redirectCheck) decode(_ *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics {
	return attrs{"paths": stringsAttr(dc, &c.Paths), "url": func(a *hcl.Attribute) hcl.Diagnostics {
		var d hcl.Diagnostics
		if c.URL, d = dc.String(a); d.HasErrors() {
			return d
		}
		if u, err := url.Parse(c.URL); err != nil || u.Scheme != "http" || u.Host == "" {
			d = append(d, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail:  fmt.Sprintf("The attribute \"url\" of redirect_to_https must be a plain-HTTP address, such as \"http://api.bank.example\"; found %q.", c.URL),
				Subject: a.Expr.Range().Ptr()})
		}
		return d
	}}.decode(content)
}

// plainBase is the check's url, else the target's URL over plain HTTP.
func (c *redirectCheck) plainBase(target string) (string, error) {
	if c.URL != "" {
		return strings.TrimRight(c.URL, "/"), nil
	}
	u, err := url.Parse(target)
	if target == "" || err != nil || u.Host == "" {
		return "", fmt.Errorf("the redirect_to_https check needs url = \"http://host\" or the suite's target; found %q", target)
	}
	if u.Scheme == "https" {
		// The https port says nothing of where plain HTTP listens.
		u.Scheme, u.Host = "http", hostOnly(u)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func (c *redirectCheck) run(ctx context.Context, ss *session) ([]result.Finding, error) {
	base, err := c.plainBase(ss.base)
	if err != nil {
		return nil, err
	}
	var out []result.Finding
	for _, p := range c.Paths {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		req, err := url.Parse(base + p)
		if err != nil {
			return out, err
		}
		a, err := ss.send(ctx, http.MethodGet, req.String(), nil, nil)
		if err != nil {
			return out, err
		}
		if f := judgeRedirect(p, req, a); f != nil {
			out = append(out, *f)
		}
	}
	return out, nil
}

// judgeRedirect returns what is wrong with the answer to the plain-HTTP
// request req for path where, or nil when it redirects to https, same host
// and path.
func judgeRedirect(where string, req *url.URL, a *answer) *result.Finding {
	loc := a.header.Get("Location")
	var f result.Finding
	switch a.status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		f = finding("redirect_to_https", "no-redirect", "medium", "Plain HTTP served without a redirect to https", where,
			fmt.Sprintf("GET %s answered %d instead of redirecting to https: the page is served in clear text.", req, a.status), refRedirect, a)
		return &f
	}
	to, err := req.Parse(loc)
	if loc == "" || err != nil {
		f = finding("redirect_to_https", "no-redirect", "medium", "Plain HTTP served without a redirect to https", where,
			fmt.Sprintf("GET %s answered %d with no usable Location (%q).", req, a.status, loc), refRedirect, a)
		return &f
	}
	if to.Scheme != "https" {
		f = finding("redirect_to_https", "not-https", "medium", "Plain HTTP redirected to plain HTTP", where,
			fmt.Sprintf("GET %s redirects to %s, which is not https: the customer stays in clear text.", req, to), refRedirect, a)
		return &f
	}
	if !strings.EqualFold(to.Hostname(), req.Hostname()) || pathOf(to) != pathOf(req) || to.RawQuery != req.RawQuery {
		want := *req
		want.Scheme, want.Host = "https", hostOnly(req)
		f = finding("redirect_to_https", "other-location", "low", "Plain HTTP redirected elsewhere than its https twin", where,
			fmt.Sprintf("GET %s redirects to %s; the same host and path over https (%s) is expected, so that links and bookmarks land where they point.", req, to, &want), refRedirect, a)
		return &f
	}
	return nil
}

func pathOf(u *url.URL) string {
	if p := u.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// hostOnly is u's host without its port, bracketed when it is IPv6.
func hostOnly(u *url.URL) string {
	if h := u.Hostname(); strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return u.Hostname()
}
