package step

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
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

	"github.com/cloudtest/cloudtest/internal/config"
)

// HTTPRequest is an http block. Its attributes are evaluated when the step
// runs, so they may use captures.
type HTTPRequest struct {
	Method, URL, Path, Headers, Query, JSON, Body, Form hcl.Expression
	Timeout                                             time.Duration
	FollowRedirects                                     bool
	DeclRange                                           hcl.Range

	// Method, URL and Path written as plain strings are evaluated once at
	// decode time (nil: evaluated per request).
	method, url, path *string
	// parsed is the last URL the step was sent to, so that a load does not
	// parse the same URL on every request.
	parsed atomic.Pointer[parsedURL]
	// derivedParts are the parts computed from secrets (derived.go).
	derivedParts derivedExprs
}

type parsedURL struct {
	base, path string // the target's URL and the path, or "" and the url
	u          *url.URL
	str        string
}

var httpSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "method"}, {Name: "url"}, {Name: "path"}, {Name: "headers"}, {Name: "query"},
	{Name: "json"}, {Name: "body"}, {Name: "form"}, {Name: "timeout"}, {Name: "follow_redirects"},
}}

func decodeHTTP(b *hcl.Block, dc *config.DecodeContext, r roots) (*HTTPRequest, hcl.Diagnostics) {
	content, diags := b.Body.Content(httpSchema)
	h := &HTTPRequest{Timeout: 30 * time.Second, FollowRedirects: true, DeclRange: b.DefRange}
	late := lateAttrs(content, dc, r.request, &diags)
	h.Method, h.URL, h.Path = late("method"), late("url"), late("path")
	h.Headers, h.Query = late("headers"), late("query")
	h.JSON, h.Body, h.Form = late("json"), late("body"), late("form")
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
	bodies := 0
	for _, e := range []hcl.Expression{h.JSON, h.Body, h.Form} {
		if e != nil {
			bodies++
		}
	}
	if bodies > 1 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Several request bodies",
			Detail: "An http block takes at most one of json, body and form.", Subject: b.DefRange.Ptr()})
	}
	if h.URL != nil && h.Path != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Both url and path",
			Detail: "Give either url (absolute) or path (joined to the suite's target URL), not both.", Subject: b.DefRange.Ptr()})
	}
	return h, diags
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
	body     []byte
	duration time.Duration
}

// build evaluates the attributes into a request (without a deadline).
func (h *HTTPRequest) build(ctx context.Context, env *Env, ectx *hcl.EvalContext) (*http.Request, []byte, error) {
	method := "GET"
	if h.Method != nil {
		m, err := str(h.Method, h.method, ectx, "method")
		if err != nil {
			return nil, nil, err
		}
		method = strings.ToUpper(m)
	}
	var pu *parsedURL
	switch {
	case h.URL != nil:
		u, err := evalURL(h.URL, h.url, ectx, "url")
		if err != nil {
			return nil, nil, err
		}
		if pu, err = h.parse("", u); err != nil {
			return nil, nil, err
		}
	default:
		if env.Target == nil {
			return nil, nil, fmt.Errorf("the step has a path but its suite has no target; give the suite a target or the step a url")
		}
		p := "/"
		if h.Path != nil {
			var err error
			if p, err = evalURL(h.Path, h.path, ectx, "path"); err != nil {
				return nil, nil, err
			}
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		var err error
		if pu, err = h.parse(env.Target.URL, p); err != nil {
			return nil, nil, err
		}
	}
	target := pu.str
	if h.Query != nil {
		q, err := evalStringMap(h.Query, ectx, "query")
		if err != nil {
			return nil, nil, err
		}
		u := *pu.u
		vals := u.Query()
		for _, k := range slices.Sorted(maps.Keys(q)) {
			vals.Add(k, q[k])
		}
		u.RawQuery = vals.Encode()
		target = u.String()
	}
	var body []byte
	var err error
	contentType := ""
	switch {
	case h.JSON != nil:
		v, diags := h.JSON.Value(ectx)
		if diags.HasErrors() {
			return nil, nil, diagError(diags)
		}
		if body, err = ctyjson.Marshal(v, v.Type()); err != nil {
			return nil, nil, fmt.Errorf("json: %w", err)
		}
		contentType = "application/json"
	case h.Body != nil:
		s, err := evalString(h.Body, ectx, "body")
		if err != nil {
			return nil, nil, err
		}
		body = []byte(s)
	case h.Form != nil:
		f, err := evalStringMap(h.Form, ectx, "form")
		if err != nil {
			return nil, nil, err
		}
		vals := url.Values{}
		for _, k := range slices.Sorted(maps.Keys(f)) {
			vals.Set(k, f[k])
		}
		body = []byte(vals.Encode())
		contentType = "application/x-www-form-urlencoded"
	}
	var r io.Reader // nil for no body: the request is sent the same, with less to allocate
	if len(body) > 0 {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, r)
	if err != nil {
		return nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if h.Headers != nil {
		hdr, err := evalStringMap(h.Headers, ectx, "headers")
		if err != nil {
			return nil, nil, err
		}
		for _, k := range slices.Sorted(maps.Keys(hdr)) {
			req.Header.Set(k, hdr[k])
		}
	}
	for k, v := range env.ExtraHeaders {
		req.Header.Set(k, v)
	}
	return req, body, nil
}

// stepTimeout is the error of a request that the step's timeout ended: the
// step's words, and context.DeadlineExceeded for errors.Is.
type stepTimeout string

func (e stepTimeout) Error() string { return string(e) }
func (e stepTimeout) Unwrap() error { return context.DeadlineExceeded }

func (h *HTTPRequest) do(ctx context.Context, env *Env, ectx *hcl.EvalContext) (*httpExchange, error) {
	rctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, body, err := h.build(rctx, env, ectx)
	if err != nil {
		return nil, err
	}
	method, u := req.Method, req.URL
	client := env.client(u.Host, h.FollowRedirects)
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return nil, stepTimeout(fmt.Sprintf("%s %s: no answer within the step's timeout of %s", method, u.Redacted(), h.Timeout))
		}
		return nil, fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBody)); err != nil {
		return nil, fmt.Errorf("%s %s: reading the response: %w", method, u.Redacted(), err)
	}
	respBody := bytes.Clone(buf.Bytes())
	return &httpExchange{req: req, reqBody: body, resp: resp, body: respBody, duration: time.Since(start)}, nil
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
// ("content-type"); several values of one header are joined with ", ".
// Fields that wants says nobody reads are left null. A JSON body too deep
// or too large to decode safely is an error (a remote denial of service
// otherwise: go-cty took 1 GB for a 20 KB body nested 8,000 deep).
func (x *httpExchange) response(wants func(string) bool) (cty.Value, error) {
	null := cty.NullVal(cty.DynamicPseudoType)
	headers, body, js := null, null, null
	if wants("headers") {
		hdr := map[string]cty.Value{}
		for k, vs := range x.resp.Header {
			v := cty.StringVal(strings.Join(vs, ", "))
			hdr[k] = v
			hdr[strings.ToLower(k)] = v
		}
		headers = cty.MapValEmpty(cty.String)
		if len(hdr) > 0 {
			headers = cty.MapVal(hdr)
		}
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
	return cty.ObjectVal(map[string]cty.Value{
		"status":      cty.NumberIntVal(int64(x.resp.StatusCode)),
		"headers":     headers,
		"body":        body,
		"json":        js,
		"duration_ms": cty.NumberFloatVal(float64(x.duration.Microseconds()) / 1000),
	}), nil
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
