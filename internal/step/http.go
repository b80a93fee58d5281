package step

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	"golang.org/x/net/http/httpguts"

	"github.com/cloudtest/cloudtest/internal/config"
)

// HTTPRequest is an http block. Its attributes are evaluated when the step
// runs, so they may use captures.
type HTTPRequest struct {
	Method, URL, Path, Headers, Query, JSON, Body, Form hcl.Expression
	// Cookies are sent with this request only, besides (and instead of
	// those of the same name) the cookies the case's jar holds.
	Cookies hcl.Expression
	// BasicAuth is { user = …, password = … }; the password is redacted
	// from every output like a sensitive value.
	BasicAuth hcl.Expression
	// Multipart is a multipart/form-data body of fields and files.
	Multipart       *Multipart
	Timeout         time.Duration
	FollowRedirects bool
	// MaxRedirects bounds the redirects followed (10 unless set).
	MaxRedirects int
	DeclRange    hcl.Range

	// Method, URL and Path written as plain strings are evaluated once at
	// decode time (nil: evaluated per request).
	method, url, path *string
	// parsed is the last URL the step was sent to, so that a load does not
	// parse the same URL on every request.
	parsed atomic.Pointer[parsedURL]
	// derivedParts are the parts computed from secrets (derived.go).
	derivedParts derivedExprs
	// sensitive are the params of the step_template the request is
	// written in that hold secrets.
	sensitive map[string]bool
}

type parsedURL struct {
	base, path string // the target's URL and the path, or "" and the url
	u          *url.URL
	str        string
	tmpl       atomic.Pointer[http.Request] // a request of str without a body (see request)
}

// request is http.NewRequestWithContext(ctx, method, p.str, nil) without
// parsing p.str again: a copy of a request made so once (with the last
// method asked for), its URL copied and its header header (nil: new).
func (p *parsedURL) request(ctx context.Context, method string, header http.Header) (*http.Request, error) {
	t := p.tmpl.Load()
	if t == nil || t.Method != method {
		var err error
		if t, err = http.NewRequestWithContext(context.Background(), method, p.str, nil); err != nil {
			return nil, err
		}
		p.tmpl.Store(t)
	}
	req := t.WithContext(ctx)
	u := *t.URL
	if header == nil {
		header = make(http.Header)
	}
	req.URL, req.Header = &u, header
	return req, nil
}

var httpSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "method"}, {Name: "url"}, {Name: "path"}, {Name: "headers"}, {Name: "query"},
	{Name: "json"}, {Name: "body"}, {Name: "form"}, {Name: "timeout"}, {Name: "follow_redirects"},
	{Name: "cookies"}, {Name: "max_redirects"}, {Name: "basic_auth"},
}, Blocks: []hcl.BlockHeaderSchema{{Type: "multipart"}}}

// defaultMaxRedirects is how many redirects a step follows unless it says.
const defaultMaxRedirects = 10

func decodeHTTP(b *hcl.Block, dc *config.DecodeContext, r roots) (*HTTPRequest, hcl.Diagnostics) {
	content, diags := b.Body.Content(httpSchema)
	h := &HTTPRequest{Timeout: 30 * time.Second, FollowRedirects: true, MaxRedirects: defaultMaxRedirects, DeclRange: b.DefRange}
	late := lateAttrs(content, dc, r.request, &diags)
	h.Method, h.URL, h.Path = late("method"), late("url"), late("path")
	h.Headers, h.Query = late("headers"), late("query")
	h.JSON, h.Body, h.Form = late("json"), late("body"), late("form")
	h.Cookies, h.BasicAuth = late("cookies"), late("basic_auth")
	diags = append(diags, checkBasicAuthKeys(h.BasicAuth)...)
	diags = append(diags, h.checkConstants()...)
	h.method, h.url, h.path = literal(h.Method), literal(h.URL), literal(h.Path)
	if a, ok := content.Attributes["timeout"]; ok {
		d, dd := dc.Duration(a)
		diags = append(diags, dd...)
		h.Timeout = d
	}
	if a, ok := content.Attributes["follow_redirects"]; ok {
		v, dd := dc.Bool(a)
		diags = append(diags, dd...)
		h.FollowRedirects = v
	}
	if a, ok := content.Attributes["max_redirects"]; ok {
		n, dd := dc.Int(a)
		diags = append(diags, dd...)
		if dd == nil && n < 0 {
			dd = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: "http.max_redirects must be zero or more.", Subject: a.Expr.Range().Ptr()}}
			diags = append(diags, dd...)
		}
		h.MaxRedirects = n
	}
	bodies := 0
	for _, e := range []hcl.Expression{h.JSON, h.Body, h.Form} {
		if e != nil {
			bodies++
		}
	}
	for _, mb := range content.Blocks {
		if h.Multipart != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate multipart block",
				Detail: fmt.Sprintf("This http block already has a multipart block at %s.", config.Location(h.Multipart.DeclRange)), Subject: mb.DefRange.Ptr()})
			continue
		}
		m, d := decodeMultipart(mb, dc, r)
		diags = append(diags, d...)
		h.Multipart = m
		bodies++
	}
	if bodies > 1 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Several request bodies",
			Detail: "An http block takes at most one of json, body, form and a multipart block.", Subject: b.DefRange.Ptr()})
	}
	if h.URL != nil && h.Path != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Both url and path",
			Detail: "Give either url (absolute) or path (joined to the suite's target URL), not both.", Subject: b.DefRange.Ptr()})
	}
	return h, diags
}

// checkConstants refuses, where they are written, the request's values
// that are known at load time (no reference) and cannot be sent: a
// method, url or path that is not a string (method = true was sent as
// TRUE) or not a method, a url that is not http(s), and headers, query,
// form or cookies that are not an object of strings, or a header name
// that is no token. A value computed when the step runs is checked then.
func (h *HTTPRequest) checkConstants() hcl.Diagnostics {
	var diags hcl.Diagnostics
	constant := func(e hcl.Expression) (cty.Value, bool) {
		if e == nil || len(e.Variables()) > 0 {
			return cty.NilVal, false
		}
		v, d := e.Value(nil)
		if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			return cty.NilVal, false
		}
		return v, true
	}
	bad := func(e hcl.Expression, field, why string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid http." + field,
			Detail: why, Subject: e.Range().Ptr()})
	}
	for field, e := range map[string]hcl.Expression{"method": h.Method, "url": h.URL, "path": h.Path} {
		v, ok := constant(e)
		if !ok {
			continue
		}
		if v.Type() != cty.String {
			bad(e, field, fmt.Sprintf("http.%s must be a string, such as %s; this is %s.", field, map[string]string{"method": `"POST"`, "url": `"https://bank.example/api"`, "path": `"/api/accounts"`}[field], v.Type().FriendlyName()))
			continue
		}
		switch s := v.AsString(); {
		case field == "method" && !httpguts.ValidHeaderFieldName(s): // a token, as a method is
			bad(e, field, fmt.Sprintf("%q is not an HTTP method, such as \"GET\" or \"POST\".", s))
		case field == "url":
			if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(e, field, fmt.Sprintf("%q is not an http:// or https:// URL with a host.", s))
			}
		}
	}
	for field, e := range map[string]hcl.Expression{"headers": h.Headers, "query": h.Query, "form": h.Form, "cookies": h.Cookies} {
		v, ok := constant(e)
		if !ok {
			continue
		}
		m, err := convert.Convert(v, cty.Map(cty.String))
		if err != nil || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
			bad(e, field, fmt.Sprintf("http.%s must be an object of strings, such as { Accept = \"application/json\" }; this is %s.", field, v.Type().FriendlyName()))
			continue
		}
		if field != "headers" {
			continue
		}
		for it := m.ElementIterator(); it.Next(); {
			k, _ := it.Element()
			if !httpguts.ValidHeaderFieldName(k.AsString()) {
				bad(e, field, fmt.Sprintf("%q is not a header name (letters, digits and !#$%%&'*+-.^_`|~, no space).", k.AsString()))
			}
		}
	}
	return diags
}

// exprs are every expression of the request, for the checks that look at
// what it refers to.
func (h *HTTPRequest) exprs() []hcl.Expression {
	var out []hcl.Expression
	for _, e := range []hcl.Expression{h.Method, h.URL, h.Path, h.Headers, h.Query, h.JSON, h.Body, h.Form, h.Cookies, h.BasicAuth} {
		if e != nil {
			out = append(out, e)
		}
	}
	if h.Multipart != nil {
		out = append(out, h.Multipart.exprs()...)
	}
	return out
}

// literal returns the string an expression always gives when it is a plain
// string or number, with no reference or function call.
func literal(e hcl.Expression) *string {
	switch t := e.(type) {
	case *hclsyntax.LiteralValueExpr:
	case *hclsyntax.TemplateExpr:
		if !t.IsStringLiteral() {
			return nil
		}
	default:
		return nil
	}
	v, diags := e.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsWhollyKnown() {
		return nil
	}
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		return nil
	}
	str := sv.AsString()
	return &str
}

// checkBasicAuthKeys reports keys of a basic_auth object written out that
// are not user and password (one missing is found when the step runs,
// since the object may come from a variable).
func checkBasicAuthKeys(e hcl.Expression) hcl.Diagnostics {
	oc, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	seen := map[string]bool{}
	for _, item := range oc.Items {
		k, d := item.KeyExpr.Value(nil)
		if d.HasErrors() || k.Type() != cty.String || !k.IsKnown() {
			continue
		}
		name := k.AsString()
		seen[name] = true
		if name != "user" && name != "password" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported basic_auth key",
				Detail: fmt.Sprintf("basic_auth takes user and password; %q is neither.", name), Subject: item.KeyExpr.Range().Ptr()})
		}
	}
	for _, need := range []string{"user", "password"} {
		if !seen[need] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing basic_auth " + need,
				Detail: "basic_auth needs both user and password: basic_auth = { user = \"alice\", password = var.password }.", Subject: e.Range().Ptr()})
		}
	}
	return diags
}

// evalBasicAuth gives the user and password of basic_auth.
func evalBasicAuth(e hcl.Expression, ectx *hcl.EvalContext) (user, password string, err error) {
	m, err := evalStringMap(e, ectx, "basic_auth")
	if err != nil {
		return "", "", err
	}
	user, okU := m["user"]
	password, okP := m["password"]
	if !okU || !okP || len(m) != 2 {
		return "", "", fmt.Errorf("basic_auth must be { user = \"…\", password = \"…\" }; it has %s", strings.Join(slices.Sorted(maps.Keys(m)), ", "))
	}
	if strings.Contains(user, ":") {
		return "", "", fmt.Errorf("basic_auth: the user may not hold a colon (Basic authentication joins user and password with one)")
	}
	return user, password, nil
}

// str evaluates a string attribute, or gives its literal.
func str(e hcl.Expression, lit *string, ectx *hcl.EvalContext, what string) (string, error) {
	if lit != nil {
		return *lit, nil
	}
	return evalString(e, ectx, what)
}

// parse parses base+path (or the url when base is ""), reusing the last
// parse when they are the same.
func (h *HTTPRequest) parse(base, path string) (*parsedURL, error) {
	if p := h.parsed.Load(); p != nil && p.base == base && p.path == path {
		return p, nil
	}
	target := path
	if base != "" {
		target = strings.TrimRight(base, "/") + path
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, urlError(target, err)
	}
	u.RawQuery = escapeQuery(u.RawQuery)
	p := &parsedURL{base: base, path: path, u: u, str: u.String()}
	h.parsed.Store(p)
	return p, nil
}

// urlError says why target is not a valid URL without printing its user
// information: a password with / or # in it breaks the parse, and
// url.Parse's error quotes the pieces (invalid port ":Pässw&rd"), which
// the redactor cannot know for parts of a secret.
func urlError(target string, err error) error {
	scheme, rest, ok := strings.Cut(target, "://")
	at := strings.LastIndex(rest, "@")
	if !ok || at < 0 {
		if ue, isURL := err.(*url.Error); isURL {
			err = ue.Err
		}
		return fmt.Errorf("the URL %q is not valid: %v", target, err)
	}
	return fmt.Errorf("the URL %q is not valid: its user information (before the @) cannot be read as user:password; "+
		"percent-encode a password that holds / ? # @ or : (urlencode(var.pw))", scheme+"://"+Redacted+rest[at:])
}

// httpExchange is what one HTTP request gave.
type httpExchange struct {
	req      *http.Request
	reqBody  []byte
	resp     *http.Response
	body     []byte // the (decoded) body; nil when the step reads none (keepBody)
	bodyLen  int    // its length, kept or not
	duration time.Duration
	// hops are the redirects followed, in order (recorded when the step
	// reads the response's redirects or cookies).
	hops []hop
	// lr reads the response's body, at most maxBody of it.
	lr io.LimitedReader
}

// header is the value of a response header as expressions see it in
// response.headers: several values joined with ", ".
func (x *httpExchange) header(name string) string {
	vs := x.resp.Header.Values(name)
	if len(vs) == 1 {
		return vs[0]
	}
	return strings.Join(vs, ", ")
}

// hop is one redirect: the answer that sent the client on.
type hop struct {
	status        int
	url, location string
	header        http.Header
}

// build evaluates the attributes into a request (without a deadline).
func (h *HTTPRequest) build(ctx context.Context, env *Env, ectx *hcl.EvalContext) (*http.Request, []byte, error) {
	method, err := h.evalMethod(ectx)
	if err != nil {
		return nil, nil, err
	}
	target, pu, err := h.evalTarget(env, ectx)
	if err != nil {
		return nil, nil, err
	}
	body, contentType, err := h.evalBody(env, ectx)
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader // nil for no body: the request is sent the same, with less to allocate
	if len(body) > 0 {
		r = bytes.NewReader(body)
	}
	var req *http.Request
	if pu != nil && r == nil {
		req, err = pu.request(ctx, method, nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, target, r)
	}
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if err := h.setHeaders(req, env, ectx); err != nil {
		return nil, nil, err
	}
	return req, body, nil
}

// evalMethod is the request's method, upper-cased; GET when the step gives none.
func (h *HTTPRequest) evalMethod(ectx *hcl.EvalContext) (string, error) {
	if h.Method == nil {
		return "GET", nil
	}
	m, err := str(h.Method, h.method, ectx, "method")
	if err != nil {
		return "", err
	}
	if h.method == nil && !httpguts.ValidHeaderFieldName(m) { // a literal was checked when loaded
		return "", fmt.Errorf("method at %s: %q is not an HTTP method, such as \"GET\" or \"POST\"", exprAt(h.Method), m)
	}
	return strings.ToUpper(m), nil
}

// evalTarget is the request's URL: the step's url, or its path on the
// suite's target, with the query attribute's values added.
func (h *HTTPRequest) evalTarget(env *Env, ectx *hcl.EvalContext) (string, *parsedURL, error) {
	var pu *parsedURL
	switch {
	case h.URL != nil:
		u, err := evalURL(h.URL, h.url, ectx, "url")
		if err != nil {
			return "", nil, err
		}
		if pu, err = h.parse("", u); err != nil {
			return "", nil, err
		}
	default:
		if env.Target == nil {
			return "", nil, fmt.Errorf("the step has a path but its suite has no target; give the suite a target or the step a url")
		}
		p := "/"
		if h.Path != nil {
			var err error
			if p, err = evalURL(h.Path, h.path, ectx, "path"); err != nil {
				return "", nil, err
			}
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		var err error
		if pu, err = h.parse(env.Target.URL, p); err != nil {
			return "", nil, err
		}
	}
	if h.Query == nil {
		return pu.str, pu, nil
	}
	q, err := evalStringMap(h.Query, ectx, "query")
	if err != nil {
		return "", nil, err
	}
	u := *pu.u
	vals := u.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vals.Add(k, q[k])
	}
	u.RawQuery = vals.Encode()
	return u.String(), nil, nil
}

// evalBody is the request's body and the Content-Type it implies (empty
// when the body attribute gives the bytes as they are).
func (h *HTTPRequest) evalBody(env *Env, ectx *hcl.EvalContext) (body []byte, contentType string, err error) {
	switch {
	case h.JSON != nil:
		v, diags := h.JSON.Value(ectx)
		if diags.HasErrors() {
			return nil, "", diagError(diags)
		}
		if body, err = ctyjson.Marshal(v, v.Type()); err != nil {
			return nil, "", fmt.Errorf("json: %w", err)
		}
		return body, "application/json", nil
	case h.Body != nil:
		s, err := evalString(h.Body, ectx, "body")
		if err != nil {
			return nil, "", err
		}
		return []byte(s), "", nil
	case h.Form != nil:
		f, err := evalStringMap(h.Form, ectx, "form")
		if err != nil {
			return nil, "", err
		}
		vals := url.Values{}
		for _, k := range slices.Sorted(maps.Keys(f)) {
			vals.Set(k, f[k])
		}
		return []byte(vals.Encode()), "application/x-www-form-urlencoded", nil
	case h.Multipart != nil:
		return h.Multipart.encode(env, ectx)
	}
	return nil, "", nil
}

// setHeaders sets the headers, basic auth and cookies attributes on req,
// then the environment's extra headers, which win.
func (h *HTTPRequest) setHeaders(req *http.Request, env *Env, ectx *hcl.EvalContext) error {
	if h.Headers != nil {
		hdr, err := evalStringMap(h.Headers, ectx, "headers")
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(hdr)) {
			req.Header.Set(k, hdr[k])
		}
	}
	if h.BasicAuth != nil {
		user, pw, err := evalBasicAuth(h.BasicAuth, ectx)
		if err != nil {
			return err
		}
		req.SetBasicAuth(user, pw)
	}
	if h.Cookies != nil {
		cs, err := evalStringMap(h.Cookies, ectx, "cookies")
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(cs)) {
			c := &http.Cookie{Name: k, Value: cs[k]}
			if err := c.Valid(); err != nil {
				return fmt.Errorf("cookies: the cookie %q cannot be sent: %v (a cookie's value may not hold spaces, commas, semicolons, backslashes or quotes; urlencode() it)", k, err)
			}
			req.AddCookie(c)
		}
	}
	// One backing array for the extra headers' values (a load sets the
	// marker and traceparent on every request).
	vals := make([]string, len(env.ExtraHeaders))
	i := 0
	for k, v := range env.ExtraHeaders {
		vals[i] = v
		req.Header[textproto.CanonicalMIMEHeaderKey(k)] = vals[i : i+1 : i+1]
		i++
	}
	return nil
}

// stepTimeout is the error of a request that the step's timeout ended: the
// step's words, and context.DeadlineExceeded for errors.Is.
type stepTimeout string

func (e stepTimeout) Error() string { return string(e) }
func (e stepTimeout) Unwrap() error { return context.DeadlineExceeded }

func (h *HTTPRequest) do(ctx context.Context, env *Env, ectx *hcl.EvalContext, keepHops, keepBody bool) (*httpExchange, error) {
	req, body, err := h.build(ctx, env, ectx)
	if err != nil {
		return nil, err
	}
	method, u := req.Method, req.URL
	// The step's timeout bounds the request, its redirects and reading
	// the answer: on a target's lean transport as the connections'
	// deadline, else as a context.
	rctx := ctx
	start := time.Now()
	var resp *http.Response
	var hops *[]hop
	if t := env.target(u.Host); t.lean != nil {
		at := start.Add(h.Timeout)
		var jar http.CookieJar
		if env.Jar != nil {
			jar = env.Jar
		}
		resp, hops, err = t.lean.send(req, jar, at, func() (*http.Client, *[]hop) {
			return h.client(env, req, keepHops, t.lean.Deadline(at, 0))
		})
	} else {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
		req = req.WithContext(rctx)
		var client *http.Client
		client, hops = h.client(env, req, keepHops, nil)
		resp, err = client.Do(req)
	}
	if err != nil {
		if (rctx.Err() == context.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded)) && ctx.Err() == nil {
			return nil, stepTimeout(fmt.Sprintf("%s %s: no answer within the step's timeout of %s", method, u.Redacted(), h.Timeout))
		}
		var tooMany *tooManyRedirects
		if errors.As(err, &tooMany) {
			return nil, fmt.Errorf("%s %s: %w", method, u.Redacted(), tooMany)
		}
		// net/http's *url.Error repeats the method and the URL, which
		// this message already gives.
		var ue *url.Error
		if errors.As(err, &ue) && ue.Err != nil {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w%s", method, u.Redacted(), err, clientCertHint(err, env.target(u.Host)))
	}
	defer resp.Body.Close()
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	buf.Reset()
	x := &httpExchange{req: req, reqBody: body, resp: resp}
	x.lr = io.LimitedReader{R: resp.Body, N: maxBody} // in x: one allocation for both
	if _, err := buf.ReadFrom(&x.lr); err != nil {
		return nil, fmt.Errorf("%s %s: reading the response: %w", method, u.Redacted(), err)
	}
	respBody, err := decodeBody(resp, buf.Bytes(), maxBody)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	if resp.Uncompressed { // net/http decoded the gzip it asked for, and dropped the header
		resp.Header.Set("Content-Encoding", "gzip")
	}
	x.bodyLen = len(respBody)
	if keepBody {
		x.body = bytes.Clone(respBody) // buf goes back to the pool
	}
	x.duration, x.lr = time.Since(start), io.LimitedReader{}
	if hops != nil {
		x.hops = *hops
	}
	return x, nil
}

// client is the HTTP client of one request: the target's, with the case's
// cookie jar, a redirect policy that keeps to max_redirects and, with
// keepHops, records each hop, and rt (when not nil) as its transport. The
// target's own client serves a request that needs none of these.
func (h *HTTPRequest) client(env *Env, req *http.Request, keepHops bool, rt http.RoundTripper) (*http.Client, *[]hop) {
	base := env.client(req.URL.Host, h.FollowRedirects)
	follow := h.FollowRedirects && (keepHops || h.MaxRedirects != defaultMaxRedirects)
	if env.Jar == nil && !follow && rt == nil {
		return base, nil
	}
	c := *base
	if rt != nil {
		c.Transport = rt
	}
	if env.Jar != nil {
		c.Jar = env.Jar
		if own := req.Cookies(); len(own) > 0 {
			names := make(map[string]string, len(own))
			for _, ck := range own {
				names[ck.Name] = ck.Value
			}
			c.Jar = without{env.Jar, names}
		}
	}
	if !follow {
		return &c, nil
	}
	hops := new([]hop)
	limit := h.MaxRedirects
	c.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		prev := via[len(via)-1]
		if len(via) > limit {
			return &tooManyRedirects{limit: limit, location: next.URL.Redacted()}
		}
		if r := next.Response; r != nil {
			*hops = append(*hops, hop{status: r.StatusCode, url: prev.URL.String(), location: next.URL.String(), header: r.Header})
		}
		return nil
	}
	return &c, hops
}

// clientCertHint says what to do when a server refused the TLS handshake
// for want of an acceptable client certificate (mutual TLS).
func clientCertHint(err error, t *Target) string {
	msg := err.Error()
	if !strings.Contains(msg, "tls: certificate required") && !strings.Contains(msg, "tls: bad certificate") &&
		!strings.Contains(msg, "tls: unknown certificate authority") {
		return ""
	}
	if t.transport == nil || t.transport.TLSClientConfig == nil || len(t.transport.TLSClientConfig.Certificates) == 0 {
		return " (the server asks for a client certificate: give the target tls { cert_file = …, key_file = … })"
	}
	return " (the server did not accept the target's client certificate, tls.cert_file: is it issued by a CA the server trusts, and still valid?)"
}

// tooManyRedirects stops a request that redirects more than its step's
// max_redirects.
type tooManyRedirects struct {
	limit    int
	location string
}

func (e *tooManyRedirects) Error() string {
	return fmt.Sprintf("stopped after %d redirects (max_redirects = %d); the next would have gone to %s", e.limit, e.limit, e.location)
}

// bodyBuffers read responses, so that a load allocates each body once, at
// its size, rather than growing a new buffer per request.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBodyBuffer(b *bytes.Buffer) {
	if b.Cap() <= 1<<20 { // a rare huge body is not kept
		bodyBuffers.Put(b)
	}
}

// maxBody bounds what is read of a response (and so what expectations see).
const maxBody = 16 << 20

// response is how an HTTP response looks to expressions. Headers are keyed
// both by their canonical name ("Content-Type") and in lower case
// ("content-type"); several values of one header are joined with ", " in
// headers, as expect { headers } sees them, and kept apart in
// header_values (a list per name). cookies are the cookies the response
// and the redirects before it set, by name. url is the URL that answered
// (after the redirects followed); redirects are the hops, each its status,
// url and location. Fields that wants says nobody
// reads are left null. A JSON body too deep
// or too large to decode safely is an error (a remote denial of service
// otherwise: go-cty took 1 GB for a 20 KB body nested 8,000 deep).
func (x *httpExchange) response(wants func(string) bool) (cty.Value, error) {
	null := cty.NullVal(cty.DynamicPseudoType)
	headers, values, cookies, body, js := null, null, null, null, null
	if wants("headers") {
		headers = x.headersValue()
	}
	if wants("header_values") {
		values = x.headerValuesValue()
	}
	if wants("cookies") {
		cookies = cookieValues(x)
	}
	finalURL, redirects := null, null
	if wants("url") {
		finalURL = x.urlValue()
	}
	if wants("redirects") {
		redirects = x.redirectsValue()
	}
	if wants("body") {
		body = cty.StringVal(string(x.body))
	}
	if wants("json") {
		var err error
		if js, err = jsonValue(x.body); err != nil {
			return cty.NilVal, err
		}
	}
	status := statusValue(x.resp.StatusCode)
	if wants("") {
		// The response as a whole: every field, those nobody reads null.
		return cty.ObjectVal(map[string]cty.Value{
			"status":        status,
			"headers":       headers,
			"header_values": values,
			"cookies":       cookies,
			"url":           finalURL,
			"redirects":     redirects,
			"body":          body,
			"json":          js,
			"duration_ms":   cty.NumberFloatVal(float64(x.duration.Microseconds()) / 1000),
		}), nil
	}
	// Only the fields read (under load a capture of response.status is an
	// object of one attribute, not of nine).
	fields := map[string]cty.Value{"status": status}
	for _, f := range [...]struct {
		name string
		v    cty.Value
	}{{"headers", headers}, {"header_values", values}, {"cookies", cookies}, {"url", finalURL}, {"redirects", redirects}, {"body", body}, {"json", js}} {
		if wants(f.name) {
			fields[f.name] = f.v
		}
	}
	if wants("duration_ms") {
		fields["duration_ms"] = cty.NumberFloatVal(float64(x.duration.Microseconds()) / 1000)
	}
	return cty.ObjectVal(fields), nil
}

// statusValues are the HTTP status codes as cty numbers (a NumberIntVal
// is a big.Float: an allocation per answer otherwise), and statusObjects
// each as a response of the one field status, built when first seen.
var (
	statusValues  [1000]cty.Value
	statusObjects [1000]atomic.Pointer[cty.Value]
)

func init() {
	for i := range statusValues {
		statusValues[i] = cty.NumberIntVal(int64(i))
	}
}

func statusValue(code int) cty.Value {
	if code >= 0 && code < len(statusValues) {
		return statusValues[code]
	}
	return cty.NumberIntVal(int64(code))
}

func statusObject(code int) cty.Value {
	if code < 0 || code >= len(statusObjects) {
		return cty.ObjectVal(map[string]cty.Value{"status": statusValue(code)})
	}
	if v := statusObjects[code].Load(); v != nil {
		return *v
	}
	v := cty.ObjectVal(map[string]cty.Value{"status": statusValue(code)})
	statusObjects[code].Store(&v)
	return v
}

// onlyStatus: of the response, only its status is read.
func onlyStatus(wants func(string) bool) bool {
	if !wants("status") || wants("") {
		return false
	}
	for _, f := range responseFields {
		if f != "status" && wants(f) {
			return false
		}
	}
	return true
}

// responseFields are the fields of an HTTP step's response.
var responseFields = [...]string{"status", "headers", "header_values", "cookies", "url", "redirects", "body", "json", "duration_ms"}

// headersValue is response.headers: each header's values joined with ", ",
// under its canonical name and in lower case.
func (x *httpExchange) headersValue() cty.Value {
	hdr := map[string]cty.Value{}
	for k, vs := range x.resp.Header {
		v := cty.StringVal(strings.Join(vs, ", "))
		hdr[k] = v
		hdr[strings.ToLower(k)] = v
	}
	if len(hdr) == 0 {
		return cty.MapValEmpty(cty.String)
	}
	return cty.MapVal(hdr)
}

// headerValuesValue is response.header_values: each header's values apart,
// under its canonical name and in lower case.
func (x *httpExchange) headerValuesValue() cty.Value {
	// An object of tuples, not a map of lists: a list never equals
	// the tuple ["a", "b"] that a condition writes.
	hdr := map[string]cty.Value{}
	for k, vs := range x.resp.Header {
		l := make([]cty.Value, len(vs))
		for i, v := range vs {
			l[i] = cty.StringVal(v)
		}
		v := cty.TupleVal(l)
		hdr[k] = v
		hdr[strings.ToLower(k)] = v
	}
	return cty.ObjectVal(hdr)
}

// urlValue is response.url: the URL that answered, after the redirects.
func (x *httpExchange) urlValue() cty.Value {
	u := x.req.URL
	if x.resp.Request != nil && x.resp.Request.URL != nil {
		u = x.resp.Request.URL
	}
	return cty.StringVal(u.String())
}

// redirectsValue is response.redirects: each hop's status, url and location.
func (x *httpExchange) redirectsValue() cty.Value {
	hops := make([]cty.Value, len(x.hops))
	for i, hp := range x.hops {
		hops[i] = cty.ObjectVal(map[string]cty.Value{
			"status": cty.NumberIntVal(int64(hp.status)), "url": cty.StringVal(hp.url), "location": cty.StringVal(hp.location),
		})
	}
	return cty.TupleVal(hops)
}

// cookieValues are the cookies the redirects and the final answer of x
// set (Set-Cookie), by name; a later one replaces an earlier one.
func cookieValues(x *httpExchange) cty.Value {
	m := map[string]cty.Value{}
	add := func(h http.Header) {
		for _, line := range h.Values("Set-Cookie") {
			if c, err := http.ParseSetCookie(line); err == nil {
				m[c.Name] = cty.StringVal(c.Value)
			}
		}
	}
	for _, hp := range x.hops {
		add(hp.header)
	}
	add(x.resp.Header)
	return cty.ObjectVal(m) // an object, so that it equals { name = "value" }
}

// Bounds on a body decoded for response.json. go-cty builds a type for
// every value and compares types recursively, so its cost grows with depth
// far faster than with size; real APIs nest a few levels and answer far
// less than 4 MiB. expect { json = … } uses encoding/json and is bounded
// only by maxBody.
const (
	maxJSONDepth = 256
	maxJSONBytes = 4 << 20
)

// jsonValue decodes a JSON body for expressions; a body that is not JSON is
// null, one nested deeper than maxJSONDepth or larger than maxJSONBytes is
// an error.
func jsonValue(b []byte) (cty.Value, error) {
	null := cty.NullVal(cty.DynamicPseudoType)
	if len(bytes.TrimSpace(b)) == 0 {
		return null, nil
	}
	if len(b) > maxJSONBytes {
		return null, fmt.Errorf("the response body is %d bytes: response.json decodes at most %d MiB; check the body with expect { json = … } or response.body", len(b), maxJSONBytes>>20)
	}
	if d := jsonDepth(b, maxJSONDepth); d > maxJSONDepth {
		return null, fmt.Errorf("the response body nests JSON more than %d levels deep: response.json refuses to decode it (a body that deep can exhaust memory)", maxJSONDepth)
	}
	ty, err := ctyjson.ImpliedType(b)
	if err != nil {
		return null, nil
	}
	v, err := ctyjson.Unmarshal(b, ty)
	if err != nil {
		return null, nil
	}
	return v, nil
}

// jsonDepth is the deepest nesting of arrays and objects in b, counted up
// to limit+1 (it stops there). Brackets inside strings do not count.
func jsonDepth(b []byte, limit int) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inString:
			if c == '\\' {
				i++
			} else if c == '"' {
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > deepest {
				if deepest = depth; deepest > limit {
					return deepest
				}
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// loadTransport is net/http's default transport with enough idle
// connections kept for a load: with the default total of 100, a burst of
// more journeys in flight closes connections on their return, and the next
// requests dial new ones (a TCP handshake each, in CPU and latency).
func loadTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	tr.MaxIdleConns = 0 // no limit over all hosts; each host keeps at most 256
	// net/http's own dialer settings, with reads and writes as raw system
	// calls (see rawIOConn).
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return rawIO(c), nil
	}
	return tr
}

// NewTransport returns the HTTP transport for a target's TLS settings;
// relative file names are resolved against baseDir.
func NewTransport(t config.TLS, baseDir string) (*http.Transport, error) {
	tr := loadTransport()
	cfg := &tls.Config{InsecureSkipVerify: t.InsecureSkipVerify, ServerName: t.ServerName}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(baseDir, p)
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(abs(t.CAFile))
		if err != nil {
			return nil, fmt.Errorf("reading ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(abs(t.CertFile), abs(t.KeyFile))
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = cfg
	return tr, nil
}
