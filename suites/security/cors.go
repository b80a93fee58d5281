package security

import (
	"context"
	"net/http"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

const refCORS = "OWASP WSTG-CLNT-07; CWE-942"

// corsCheck sends each path a simple request and a preflight from a
// foreign origin, and reports an answer that lets that origin read
// responses with the user's credentials.
type corsCheck struct {
	Paths            []string
	Origin, Identity string
}

var corsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "paths"}, {Name: "origin"}, {Name: "identity"}}}

func init() {
	register(checkKind{name: "cors", rank: 40, schema: corsSchema,
		defaults: func() settings { return &corsCheck{Paths: []string{"/"}, Origin: "https://attacker.invalid"} }})
}

func (c *corsCheck) decode(_ *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics {
	return attrs{"paths": stringsAttr(dc, &c.Paths), "origin": stringAttr(dc, &c.Origin), "identity": stringAttr(dc, &c.Identity)}.decode(content)
}

func (c *corsCheck) identity() string { return c.Identity }

func (c *corsCheck) run(ctx context.Context, ss *session) ([]result.Finding, error) {
	var hdr map[string]string
	if len(ss.s.Identities) > 0 {
		var err error
		if hdr, err = ss.identity(c.Identity); err != nil {
			return nil, err
		}
	}
	var out []result.Finding
	seen := map[string]bool{}
	for _, p := range c.Paths {
		for _, method := range []string{http.MethodGet, http.MethodOptions} {
			h := map[string]string{"Origin": c.Origin}
			for k, v := range hdr {
				h[k] = v
			}
			if method == http.MethodOptions {
				h["Access-Control-Request-Method"] = "GET"
				h["Access-Control-Request-Headers"] = "authorization"
			}
			a, err := ss.send(ctx, method, ss.url(p), h, nil)
			if err != nil {
				return nil, err
			}
			acao := strings.TrimSpace(a.header.Get("Access-Control-Allow-Origin"))
			creds := strings.EqualFold(strings.TrimSpace(a.header.Get("Access-Control-Allow-Credentials")), "true")
			if !creds {
				continue
			}
			var f result.Finding
			switch {
			case acao == "*":
				f = finding("cors", "wildcard-with-credentials", "high", "Any origin allowed, with credentials", p,
					"Access-Control-Allow-Origin is * together with Access-Control-Allow-Credentials: true.", refCORS, a)
			case acao == c.Origin:
				f = finding("cors", "reflected-origin-with-credentials", "high", "Foreign origin reflected, with credentials", p,
					"The answer allows the origin "+c.Origin+" (which the request sent) and credentials: any web site can read this user's data.", refCORS, a)
			case acao == "null":
				f = finding("cors", "null-origin-with-credentials", "high", "Origin null allowed, with credentials", p,
					"Access-Control-Allow-Origin: null with credentials lets sandboxed pages of any site read the answer.", refCORS, a)
			default:
				continue
			}
			if !seen[f.ID+p] {
				seen[f.ID+p] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}
