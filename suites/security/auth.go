package security

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"sigs.k8s.io/yaml"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// noneJWT is a token signed with "none" claiming to be an administrator:
// a server that accepts it does not check signatures.
const noneJWT = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9."

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func ok2xx(status int) bool { return status >= 200 && status < 300 }

// authCheck asks every endpoint without credentials, with forged tokens
// and with an expired one, and every object an identity owns as each other
// identity.
type authCheck struct {
	Paths, AllowPaths     []string
	OpenAPI, ExpiredToken string
	PathParams            map[string]string
}

var authSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "paths"}, {Name: "openapi"}, {Name: "allow"}, {Name: "expired_token"}, {Name: "path_params"},
}}

func init() {
	register(checkKind{name: "auth", rank: 30, schema: authSchema, needs: "the endpoints to try (paths or openapi)",
		defaults: func() settings { return &authCheck{} }})
}

func (c *authCheck) decode(b *hcl.Block, content *hcl.BodyContent, dc *config.DecodeContext) hcl.Diagnostics {
	diags := attrs{
		"paths": stringsAttr(dc, &c.Paths), "openapi": stringAttr(dc, &c.OpenAPI), "allow": stringsAttr(dc, &c.AllowPaths),
		"expired_token": stringAttr(dc, &c.ExpiredToken),
		"path_params": func(a *hcl.Attribute) (d hcl.Diagnostics) {
			c.PathParams, d = dc.StringMap(a)
			return d
		},
	}.decode(content)
	if len(c.Paths) == 0 && c.OpenAPI == "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Auth check without endpoints",
			Detail:  "The auth check needs paths = [\"/api/accounts\", ...] or openapi = \"openapi.json\" (the endpoints to try without credentials).",
			Subject: b.DefRange.Ptr()})
	}
	return diags
}

func (c *authCheck) run(ctx context.Context, ss *session) ([]result.Finding, error) {
	paths := append([]string(nil), c.Paths...)
	if c.OpenAPI != "" {
		more, err := openAPIPaths(filepath.Join(ss.env.Config.Dir, c.OpenAPI), c.OpenAPI)
		if err != nil {
			return nil, err
		}
		paths = append(paths, more...)
	}
	header, scheme := credentialHeader(ss)
	var rnd [16]byte
	rand.Read(rnd[:])
	forged := []string{hex.EncodeToString(rnd[:]), noneJWT}
	var out []result.Finding
	for _, raw := range paths {
		p := pathParam.ReplaceAllStringFunc(raw, func(m string) string {
			if v, ok := c.PathParams[m[1:len(m)-1]]; ok {
				return v
			}
			return "1"
		})
		if allowed(c.AllowPaths, raw) || allowed(c.AllowPaths, p) {
			continue
		}
		fs, err := c.tryEndpoint(ctx, ss, p, header, scheme, forged)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	bola, err := checkObjects(ctx, ss)
	return append(out, bola...), err
}

// tryEndpoint asks p without credentials, then (when it refused) with
// each forged token and the expired one.
func (c *authCheck) tryEndpoint(ctx context.Context, ss *session, p, header, scheme string, forged []string) ([]result.Finding, error) {
	var out []result.Finding
	a, err := ss.get(ctx, p, nil)
	if err != nil {
		return nil, err
	}
	if ok2xx(a.status) {
		return []result.Finding{finding("auth", "no-credentials", "high", "Endpoint answers without credentials", p,
			fmt.Sprintf("GET %s without any credential answered %d.", p, a.status), "OWASP API2:2023; CWE-306", a)}, nil
	}
	for _, tok := range forged {
		a, err := ss.get(ctx, p, map[string]string{header: scheme + tok})
		if err != nil {
			return nil, err
		}
		if ok2xx(a.status) {
			out = append(out, finding("auth", "forged-token", "critical", "Forged token accepted", p,
				fmt.Sprintf("GET %s with a token cloudtest made up answered %d: credentials are not verified.", p, a.status), "OWASP API2:2023; CWE-287", a))
			break
		}
	}
	if c.ExpiredToken != "" {
		a, err := ss.get(ctx, p, map[string]string{header: scheme + c.ExpiredToken})
		if err != nil {
			return nil, err
		}
		if ok2xx(a.status) {
			out = append(out, finding("auth", "expired-token", "high", "Expired token accepted", p,
				fmt.Sprintf("GET %s with the expired token answered %d.", p, a.status), "OWASP API2:2023; CWE-613", a))
		}
	}
	return out, nil
}

// credentialHeader is the header (and the scheme before the token) the
// first identity sends its credential in: Authorization when it has one,
// else the header whose value holds a string its login captured; Bearer in
// Authorization when no identity is declared.
func credentialHeader(ss *session) (header, scheme string) {
	header, scheme = "Authorization", "Bearer "
	if len(ss.s.Identities) == 0 {
		return header, scheme
	}
	hdr, err := ss.identity("")
	if err != nil || len(hdr) == 0 {
		return header, scheme
	}
	schemeOf := func(v string) string {
		if strings.HasPrefix(v, "Bearer ") {
			return "Bearer "
		}
		return ""
	}
	for _, k := range sortedKeys(hdr) {
		if strings.EqualFold(k, "Authorization") {
			return k, schemeOf(hdr[k])
		}
	}
	for _, k := range sortedKeys(hdr) {
		for _, c := range ss.creds[ss.s.Identities[0].Name] {
			if i := strings.Index(hdr[k], c); i >= 0 {
				return k, hdr[k][:i]
			}
		}
	}
	k := sortedKeys(hdr)[0]
	return k, schemeOf(hdr[k])
}

// checkObjects reads each object an identity owns as every other identity.
func checkObjects(ctx context.Context, ss *session) ([]result.Finding, error) {
	var out []result.Finding
	for _, owner := range ss.s.Identities {
		if len(owner.Owns) == 0 {
			continue
		}
		own, err := ss.identity(owner.Name)
		if err != nil {
			return out, err
		}
		for _, p := range owner.Owns {
			a, err := ss.get(ctx, p, own)
			if err != nil {
				return out, err
			}
			if !ok2xx(a.status) {
				return out, fmt.Errorf("identity %q cannot read its own object %s (status %d); object-level authorization cannot be judged", owner.Name, p, a.status)
			}
			for _, other := range ss.s.Identities {
				if other.Name == owner.Name {
					continue
				}
				hdr, err := ss.identity(other.Name)
				if err != nil {
					return out, err
				}
				a, err := ss.get(ctx, p, hdr)
				if err != nil {
					return out, err
				}
				if ok2xx(a.status) {
					out = append(out, finding("auth", "bola", "high", "Another customer's object is readable", p,
						fmt.Sprintf("%s belongs to %q, yet %q read it (status %d): broken object-level authorization.", p, owner.Name, other.Name, a.status),
						"OWASP API1:2023; CWE-639", a))
				}
			}
		}
	}
	return out, nil
}

func allowed(patterns []string, p string) bool {
	for _, pat := range patterns {
		if pat == p {
			return true
		}
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// openAPIPaths reads the GET operations of an OpenAPI document (JSON or
// YAML). Only GET is tried: a request that changes data must not succeed by
// accident on a system whose authentication is broken.
func openAPIPaths(file, name string) ([]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the OpenAPI file %s: %w", name, err)
	}
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("the OpenAPI file %s is neither JSON nor YAML: %w", name, err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("the OpenAPI file %s: %w", name, err)
	}
	if len(doc.Paths) == 0 {
		return nil, fmt.Errorf("the OpenAPI file %s has no paths", name)
	}
	var out []string
	for p, ops := range doc.Paths {
		if _, ok := ops["get"]; ok {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
