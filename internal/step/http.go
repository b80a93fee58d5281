package step

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
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
		m, err := evalString(h.Method, ectx, "method")
		if err != nil {
			return nil, nil, err
		}
		method = strings.ToUpper(m)
	}
	var target string
	switch {
	case h.URL != nil:
		u, err := evalString(h.URL, ectx, "url")
		if err != nil {
			return nil, nil, err
		}
		target = u
	default:
		if env.Target == nil {
			return nil, nil, fmt.Errorf("the step has a path but its suite has no target; give the suite a target or the step a url")
		}
		p := "/"
		if h.Path != nil {
			var err error
			if p, err = evalString(h.Path, ectx, "path"); err != nil {
				return nil, nil, err
			}
		}
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		target = strings.TrimRight(env.Target.URL, "/") + p
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, nil, fmt.Errorf("the URL %q is not valid: %w", target, err)
	}
	if h.Query != nil {
		q, err := evalStringMap(h.Query, ectx, "query")
		if err != nil {
			return nil, nil, err
		}
		vals := u.Query()
		for _, k := range slices.Sorted(maps.Keys(q)) {
			vals.Add(k, q[k])
		}
		u.RawQuery = vals.Encode()
	}
	var body []byte
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
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
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

func (h *HTTPRequest) do(ctx context.Context, env *Env, ectx *hcl.EvalContext) (*httpExchange, error) {
	rctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, body, err := h.build(rctx, env, ectx)
	if err != nil {
		return nil, err
	}
	method, u := req.Method, req.URL
	client := &http.Client{Transport: env.transport(u.Host)}
	if !h.FollowRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		if rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return nil, fmt.Errorf("%s %s: no answer within the step's timeout of %s", method, u.Redacted(), h.Timeout)
		}
		return nil, fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the response: %w", method, u.Redacted(), err)
	}
	return &httpExchange{req: req, reqBody: body, resp: resp, body: respBody, duration: time.Since(start)}, nil
}

// maxBody bounds what is read of a response (and so what expectations see).
const maxBody = 16 << 20

// response is how an HTTP response looks to expressions. Headers are keyed
// both by their canonical name ("Content-Type") and in lower case
// ("content-type"); several values of one header are joined with ", ".
// Fields that wants says nobody reads are left null.
func (x *httpExchange) response(wants func(string) bool) cty.Value {
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
		js = jsonValue(x.body)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"status":      cty.NumberIntVal(int64(x.resp.StatusCode)),
		"headers":     headers,
		"body":        body,
		"json":        js,
		"duration_ms": cty.NumberFloatVal(float64(x.duration.Microseconds()) / 1000),
	})
}

// jsonValue decodes a JSON body for expressions; a body that is not JSON is null.
func jsonValue(b []byte) cty.Value {
	if len(bytes.TrimSpace(b)) == 0 {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	ty, err := ctyjson.ImpliedType(b)
	if err != nil {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	v, err := ctyjson.Unmarshal(b, ty)
	if err != nil {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return v
}

// NewTransport returns the HTTP transport for a target's TLS settings;
// relative file names are resolved against baseDir.
func NewTransport(t config.TLS, baseDir string) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
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
