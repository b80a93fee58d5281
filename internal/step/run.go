package step

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/onsi/gomega"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// Target is a started target as steps see it.
type Target struct {
	Name, URL string
	host      string
	transport *http.Transport
	// lean sends plain HTTP/1.1 itself and the rest with transport (nil
	// without a transport of its own).
	lean *leanTransport
	// clients send with the transport, following redirects or not; one
	// client per target, not per request.
	follow, noFollow *http.Client
	// api is the target's OpenAPI document (nil: none).
	api *openAPI
}

// Env is what a step needs to run: the configuration, the targets, the
// redactor and the database handles. One Env serves every step of a suite;
// copy it to give a case its own Vars.
type Env struct {
	Config  *config.Config
	Target  *Target
	Targets map[string]*Target
	Redact  *Redactor
	DB      *DBPool
	// Vars are further run-time roots, such as "each".
	Vars map[string]cty.Value
	// SecretVars names, for a root of Vars, its attributes that are
	// secrets: "each" → "value" when a case's for_each reads a sensitive
	// variable or local, "feed" → a feed's sensitive columns. A reference
	// to the whole root is a secret when it has any.
	SecretVars map[string][]string
	// ExtraHeaders are set on every HTTP request (load-test markers).
	ExtraHeaders map[string]string
	// Lean skips the redacted request/response excerpts: load generators
	// run steps thousands of times and keep only numbers.
	Lean bool
	// Dial, when set (through SetDial), opens every connection of HTTP and
	// TCP steps: a security suite's scope guard refuses addresses there.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Jar keeps the cookies of one case or journey iteration (nil: no
	// cookies are kept); give each case its own (NewCookieJar, Fork).
	Jar *CookieJar
	// Scratch, when set, is reused by each attempt of a step run with
	// this Env instead of allocating its own: give one to a worker that
	// runs one step at a time (a load generator's). Copies of the Env
	// share it: a copy that runs steps at the same time as another needs
	// its own, or none.
	Scratch *Scratch

	targetsValue cty.Value
	// fallback serves hosts of no target; shared by the copies of an Env.
	fallback *lazyTarget
	// sensitive names the sensitive captures; shared by the copies.
	sensitive *sensitiveNames
	// learned are the credentials seen in headers (Set-Cookie, Cookie,
	// Authorization); shared by the copies.
	learned *learnedSecrets
}

type lazyTarget struct {
	once sync.Once
	t    *Target
}

func newTarget(name, u string, tr *http.Transport) *Target {
	t := &Target{Name: name, URL: u, transport: tr}
	if pu, err := url.Parse(u); err == nil {
		t.host = pu.Host
	}
	var rt http.RoundTripper // nil: net/http's default transport
	if tr != nil {
		t.lean = newLeanTransport(tr)
		rt = t.lean
	}
	t.follow = &http.Client{Transport: rt}
	t.noFollow = &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return t
}

// closeIdle closes the target's idle connections.
func (t *Target) closeIdle() {
	if t.lean != nil {
		t.lean.CloseIdleConnections()
	}
}

// NewEnv prepares the steps of a suite: urls are the started targets' URLs
// by name and own names the suite's target ("" for none).
func NewEnv(cfg *config.Config, urls map[string]string, own string) (*Env, error) {
	env := &Env{Config: cfg, Targets: map[string]*Target{}, Redact: NewRedactor(cfg.SensitiveValues()),
		DB: NewDBPool(), fallback: &lazyTarget{}, sensitive: &sensitiveNames{}, learned: &learnedSecrets{}}
	tv := map[string]cty.Value{}
	for name, u := range urls {
		var tr *http.Transport
		if tc, ok := cfg.Targets[name]; ok {
			var err error
			if tr, err = NewTransport(tc.TLS, cfg.Dir); err != nil {
				return nil, fmt.Errorf("target %q: %w", name, err)
			}
		}
		env.Targets[name] = newTarget(name, u, tr)
		if tc, ok := cfg.Targets[name]; ok && tc.OpenAPI != "" {
			api, err := loadOpenAPI(resolve(cfg.Dir, tc.OpenAPI), u)
			if err != nil {
				return nil, fmt.Errorf("target %q: %w", name, err)
			}
			env.Targets[name].api = api
		}
		tv[name] = config.TargetValue(name, u)
	}
	env.targetsValue = cty.ObjectVal(tv)
	if own != "" {
		env.Target = env.Targets[own]
		if env.Target == nil {
			return nil, fmt.Errorf("target %q is not running", own)
		}
	}
	return env, nil
}

// Close releases database handles and idle connections.
func (e *Env) Close() error {
	for _, t := range e.Targets {
		t.closeIdle()
	}
	if t := e.fallback.t; t != nil {
		t.closeIdle()
	}
	return e.DB.Close()
}

// SetDial routes every connection of the steps through dial, one
// connection per HTTP request, so that a dialer that counts and paces
// connections (a security suite's scope guard) counts and paces requests.
// The transports then use no proxy: through a proxy the dialer would see
// only the proxy's address, and the request would go wherever the proxy
// sends it.
func (e *Env) SetDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	e.Dial = dial
	for _, t := range e.Targets {
		if t.transport != nil {
			guard(t.transport, dial)
			t.closeIdle()
		}
	}
	if t := e.fallback.t; t != nil {
		guard(t.transport, dial)
		t.closeIdle()
	}
}

func guard(tr *http.Transport, dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	tr.DialContext, tr.DisableKeepAlives, tr.Proxy = dial, true, nil
}

// Client is the HTTP client the steps use for the host of rawURL (its
// target's TLS settings, and the dialer SetDial gave).
func (e *Env) Client(rawURL string, followRedirects bool) *http.Client {
	host := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		host = u.Host
	}
	return e.client(host, followRedirects)
}

// target picks the target that host belongs to, for its TLS settings; a
// host of no target gets a transport of its own.
func (e *Env) target(host string) *Target {
	// The suite's own target first: two targets may share a host and
	// differ in their TLS settings (a client certificate or none).
	if t := e.Target; t != nil && t.transport != nil && t.host != "" && t.host == host {
		return t
	}
	for _, t := range e.Targets {
		if t.transport != nil && t.host != "" && t.host == host {
			return t
		}
	}
	f := e.fallback
	f.once.Do(func() {
		tr := loadTransport()
		if e.Dial != nil {
			guard(tr, e.Dial)
		}
		f.t = newTarget("", "", tr)
	})
	return f.t
}

// transport picks the TLS settings of the target that host belongs to.
func (e *Env) transport(host string) *http.Transport { return e.target(host).transport }

// roundTripper is what sends the requests to host: its target's lean
// transport (see leanTransport).
func (e *Env) roundTripper(host string) http.RoundTripper {
	if t := e.target(host); t.lean != nil {
		return t.lean
	}
	return http.DefaultTransport
}

// client is the HTTP client for host.
func (e *Env) client(host string, followRedirects bool) *http.Client {
	t := e.target(host)
	if followRedirects {
		return t.follow
	}
	return t.noFollow
}

// ClientTLS is Client without following redirects, with other TLS
// settings: the same dialer and proxy settings, a transport of its own.
func (e *Env) ClientTLS(rawURL string, cfg *tls.Config) *http.Client {
	host := rawURL
	if u, err := url.Parse(rawURL); err == nil {
		host = u.Host
	}
	tr := e.transport(host).Clone()
	tr.TLSClientConfig = cfg
	return newTarget("", "", tr).noFollow
}

// Outcome is what a step gave.
type Outcome struct {
	Status result.Status
	// Message says why the step did not pass: every failed check in full.
	Message string
	// First is the first failure in full with the names of the other
	// failed checks ("" when Message says it all).
	First    string
	Checks   []result.Check
	Exchange *result.Exchange
	Response cty.Value
	Captures map[string]cty.Value
	Attempts int
	Duration time.Duration
	// Code is the HTTP status (0 for other requests or when none came back);
	// BytesIn and BytesOut count the bodies received and sent.
	Code              int
	BytesIn, BytesOut int

	ectx *hcl.EvalContext // the attempt's evaluation context, reused by the captures
	// ServerTiming holds the durations (ms) of the response's
	// Server-Timing header by metric name ("db;dur=53" gives db: 53).
	ServerTiming map[string]float64
	// Err is the error that ended the request (refused, reset, timed out),
	// for errors.Is and errors.As; nil when a response came back. Its text
	// is not redacted: what is shown is Message.
	Err error
}

// evalContext gives the run-time roots; with used (a step's referenced
// roots) only those, since an expression reads nothing else and building
// the captures' object costs more than the request under load.
func (e *Env) evalContext(captures map[string]cty.Value, response cty.Value, used map[string]bool) *hcl.EvalContext {
	vars := make(map[string]cty.Value, 3+len(e.Vars))
	e.fillVars(vars, captures, response, used)
	return e.Config.EvalContext(vars)
}

// attemptContext is evalContext for one attempt of a step: with a Scratch,
// the Scratch's context, its variables replaced.
func (e *Env) attemptContext(captures map[string]cty.Value, used map[string]bool) *hcl.EvalContext {
	sc := e.Scratch
	if sc == nil {
		return e.evalContext(captures, cty.NilVal, used)
	}
	if sc.ectx == nil || sc.config != e.Config {
		sc.ectx, sc.config = e.evalContext(captures, cty.NilVal, used), e.Config
		return sc.ectx
	}
	clear(sc.ectx.Variables)
	e.fillVars(sc.ectx.Variables, captures, cty.NilVal, used)
	return sc.ectx
}

func (e *Env) fillVars(vars, captures map[string]cty.Value, response cty.Value, used map[string]bool) {
	if used == nil || used["capture"] {
		vars["capture"] = cty.ObjectVal(captures)
	}
	if e.targetsValue != cty.NilVal && (used == nil || used["target"]) {
		vars["target"] = e.targetsValue
	}
	for k, v := range e.Vars {
		if used == nil || used[k] {
			vars[k] = v
		}
	}
	if response != cty.NilVal {
		vars["response"] = response
	}
}

// Scratch is what a worker's steps reuse, one after the other (Env's
// Scratch): an attempt's evaluation context with its variables' map and
// its base redactor, and the map of a Run's captures. Nothing holds the
// first two after a step's Run returns (the messages and excerpts an
// attempt keeps are rendered before); Outcome.Captures is the map, valid
// until the next Run with the same Scratch.
type Scratch struct {
	_        noCopy // go vet: a copy would redact with the original's redactor
	config   *config.Config
	ectx     *hcl.EvalContext
	red      lazyRedactor
	get      func() *Redactor // red.get, bound once (to bound)
	bound    *lazyRedactor
	captures map[string]cty.Value
}

// Run executes the step: the request, then the expectations and assertions,
// then the captures. With an eventually block the request and its checks
// are repeated until they pass or the time is up.
func (s *Step) Run(ctx context.Context, env *Env, captures map[string]cty.Value) Outcome {
	start := time.Now()
	var out Outcome
	if s.Eventually == nil {
		out = s.attempt(ctx, env, captures)
		out.Attempts = 1
	} else {
		out = s.poll(ctx, env, captures)
	}
	if out.Status == result.Passed && len(s.Captures) > 0 {
		if sc := env.Scratch; sc != nil {
			// The caller copies them before its next Run; a caller that
			// hands the map back as this Run's captures gets a new one,
			// not its own cleared.
			if sc.captures == nil || sameMap(sc.captures, captures) {
				sc.captures = map[string]cty.Value{}
			}
			clear(sc.captures)
			out.Captures = sc.captures
		} else {
			out.Captures = map[string]cty.Value{}
		}
		ectx := out.ectx
		var secrets []string
		for _, c := range s.Captures {
			var v cty.Value
			var diags hcl.Diagnostics
			if s.HTTP != nil && isStatusTraversal(c.Expr) {
				v = statusValue(out.Code) // what evaluating response.status gives, without HCL's lookups
			} else {
				v, diags = c.Expr.Value(ectx)
			}
			if diags.HasErrors() {
				out.Status = result.Errored
				shown := s.renderEval(diags, env, s.tainted(env, c.Expr), ectx)
				if c.Sensitive {
					// What it read is the secret it failed to take: no value.
					shown = s.render(scrubbed(diags, true), env, true)
				}
				out.Message = env.redactor(captures)().With(secrets...).String(fmt.Sprintf("capture.%s at %s%s could not be evaluated:\n%s", c.Name, config.Location(c.Expr.Range()), s.usedAt(config.Location(c.Expr.Range())), shown))
				break
			}
			out.Captures[c.Name] = v
			if late := !c.Sensitive && s.lateSecret(env, &c); c.Sensitive || late {
				env.sensitive.add(c.Name, late)
				secrets = append(secrets, secretStrings(v, late)...)
			}
		}
		// The response that handed out a credential is in the excerpt
		// and may be in the messages: redact it there too (under load a
		// passed step keeps neither, and nothing is built).
		if len(secrets) > 0 && out.keepsText() {
			out.redactAgain(env.redactor(captures)().With(secrets...))
		}
	}
	if out.Status != result.Passed && out.ectx != nil && len(s.Captures) > 0 && out.keepsText() {
		// A step that did not pass takes no captures (or stopped at one
		// that failed), but its messages
		// and excerpt may show what a sensitive one would have held (the
		// token of a login whose assert failed): learn those values, to
		// redact them as a passed step's would be.
		var secrets []string
		for _, c := range s.Captures {
			late := !c.Sensitive && s.lateSecret(env, &c)
			if !c.Sensitive && !late {
				continue
			}
			if v, diags := c.Expr.Value(out.ectx); !diags.HasErrors() {
				secrets = append(secrets, secretStrings(v, late)...)
			}
		}
		if len(secrets) > 0 {
			out.redactAgain(env.redactor(captures)().With(secrets...))
		}
	}
	out.Duration = time.Since(start)
	return out
}

// poll repeats attempts with gomega's Eventually until one passes.
func (s *Step) poll(ctx context.Context, env *Env, captures map[string]cty.Value) Outcome {
	var last Outcome
	attempts := 0
	failed := false
	g := gomega.NewGomega(func(string, ...int) { failed = true })
	start := time.Now()
	g.Eventually(ctx, func() error {
		attempts++
		last = s.attempt(ctx, env, captures)
		if last.Status == result.Passed {
			return nil
		}
		return errors.New(last.Message)
	}).WithTimeout(s.Eventually.Within).WithPolling(s.Eventually.Every).Should(gomega.Succeed())
	last.Attempts = attempts
	if last.Status != result.Passed && failed {
		// gomega's own message prints the last error twice and its Go
		// type; this says the same once, in words.
		why := fmt.Sprintf("gave up after %d attempts in %s", attempts, FormatDuration(time.Since(start)))
		if ctx.Err() != nil {
			why = fmt.Sprintf("stopped after %d attempts: the run ended", attempts)
		}
		head := fmt.Sprintf("eventually (within %s, every %s) %s; the last attempt:\n", FormatDuration(s.Eventually.Within), FormatDuration(s.Eventually.Every), why)
		red := env.redactor(captures)()
		last.Message = red.String(head + indent(last.Message, "  "))
		if last.First != "" {
			last.First = red.String(head + indent(last.First, "  "))
		}
	}
	return last
}

func (s *Step) attempt(ctx context.Context, env *Env, captures map[string]cty.Value) Outcome {
	// One evaluation context serves the request, then (with the response
	// added) the checks and the captures: a load runs this per request.
	reqCtx := env.attemptContext(captures, s.roots)
	red := env.attemptRedactor(captures)
	if s.params != nil {
		// The template's param: its arguments evaluated in the using
		// step's context, which its expressions then read.
		pv, secrets, diags := s.params.Value(reqCtx, func(name string) bool { return s.secretParam(env, name) })
		if len(secrets) > 0 {
			red = withSecrets(red, secrets)
		}
		if diags.HasErrors() {
			tainted := len(secrets) > 0 || len(s.params.Sensitive) > 0 || s.tainted(env, lateArgs(s.params)...)
			return Outcome{Status: result.Errored, Message: red().String("the params of step_template " + s.Template.Name + " could not be evaluated:\n" + s.renderEval(diags, env, tainted, reqCtx))}
		}
		reqCtx.Variables["param"] = pv
	}
	var out Outcome
	out.ectx = reqCtx
	var obs observed
	switch {
	case s.HTTP != nil:
		if err := s.attemptHTTP(ctx, env, reqCtx, &red, &out, &obs); err != nil {
			return s.errored(red(), err)
		}
	case s.SQL != nil:
		if err := s.attemptSQL(ctx, env, reqCtx, red, &out, &obs); err != nil {
			return s.errored(red(), err)
		}
	case s.TCP != nil:
		addr, d, err := s.TCP.do(ctx, env, reqCtx)
		if err != nil {
			return s.errored(red(), err)
		}
		out.Response = tcpResponse(addr, d)
		out.Exchange = &result.Exchange{Protocol: "tcp", URL: addr}
		obs = observed{duration: d}
	}
	if out.Response != cty.NilVal {
		reqCtx.Variables["response"] = out.Response
	}
	s.judge(env, &out, &obs, reqCtx, red)
	return out
}

// attemptHTTP sends the step's request and puts what came back into out
// and obs. It widens *red with what the request revealed (derived values,
// credentials, the basic auth password) as it goes, so that the caller's
// red() of an error hides them too.
func (s *Step) attemptHTTP(ctx context.Context, env *Env, reqCtx *hcl.EvalContext, red *func() *Redactor, out *Outcome, obs *observed) error {
	*red = env.withDerived(*red, s.HTTP, reqCtx, func(name string) bool { return s.secretParam(env, name) })
	x, err := s.HTTP.do(ctx, env, reqCtx, s.usesResponse() && (s.wants("redirects") || s.wants("cookies")), s.readsBody(env))
	if err != nil {
		return err
	}
	*red = env.withCredentials(*red, x)
	if s.HTTP.BasicAuth != nil {
		*red = env.withPassword(*red, x.req)
	}
	if s.usesResponse() {
		if s.statusOnly {
			// The commonest capture under load (response.status): the
			// same object for every answer of a code, built once.
			out.Response = statusObject(x.resp.StatusCode)
		} else if out.Response, err = x.response(s.wants); err != nil {
			return fmt.Errorf("%s %s: %w", x.req.Method, x.req.URL.Redacted(), err)
		}
	}
	out.Code, out.BytesIn, out.BytesOut = x.resp.StatusCode, x.bodyLen, len(x.reqBody)
	out.ServerTiming = parseServerTiming(x.resp.Header.Values("Server-Timing"))
	if !env.Lean {
		out.Exchange = s.httpExcerpt((*red)(), x)
	}
	*obs = observed{status: x.resp.StatusCode, hx: x, duration: x.duration}
	if s.Expect != nil && s.Expect.OpenAPI {
		obs.req, obs.respHeader = requestOf(x), x.resp.Header
		obs.api = env.target(obs.req.URL.Host).api
	}
	if s.Expect.readsBody() {
		obs.body = string(x.body)
	}
	return nil
}

// readsBody says whether anything of the step reads its response's body:
// the excerpt (kept unless lean), a body or JSON expectation (OpenAPI's
// and schemas' too), or an expression on response.body or response.json.
// A load's step that checks only the status keeps no copy of it.
func (s *Step) readsBody(env *Env) bool {
	return !env.Lean || s.Expect.readsBody() ||
		(s.usesResponse() && !s.statusOnly && (s.wants("body") || s.wants("json")))
}

// attemptSQL runs the step's query and puts its rows into out and obs.
func (s *Step) attemptSQL(ctx context.Context, env *Env, reqCtx *hcl.EvalContext, red func() *Redactor, out *Outcome, obs *observed) error {
	r, err := s.SQL.do(ctx, env, reqCtx, red)
	if err != nil {
		return err
	}
	if s.usesResponse() {
		out.Response = r.response()
	}
	out.Exchange = &result.Exchange{Protocol: "sql", Query: red().String(r.query), RowCount: len(r.rows)}
	out.Exchange.ResponseBody, out.Exchange.Truncated = red().ResponseBody(rowsExcerpt(r))
	*obs = observed{duration: r.duration, rowCount: len(r.rows), isSQL: true}
	return nil
}

// judge runs the step's expect and assert checks in ectx (the response
// bound) and gives out their redacted results, its status (the worst of
// them, passed when none failed) and its failure messages.
func (s *Step) judge(env *Env, out *Outcome, obs *observed, ectx *hcl.EvalContext, red func() *Redactor) {
	out.Status = result.Passed
	if s.Expect != nil {
		obs.red = red
		out.Checks = append(out.Checks, s.Expect.check(*obs, ectx)...)
	}
	if s.HTTP != nil && (obs.status < 200 || obs.status >= 400) && !s.saysStatus() {
		// A step that says nothing of the status expects a success, as
		// under load (vegeta's rule): a 500 is not a pass. (Listed only
		// when it fails: every other check is one the suite wrote.)
		out.Checks = append(out.Checks, result.Check{Name: "status (the default: 200–399)", Status: result.Failed, Location: config.Location(s.DeclRange),
			Message: fmt.Sprintf("got %d, want 200–399: the step has no expect.status and no assert on response.status; give one to expect another status", obs.status)})
	}
	for _, a := range s.Asserts {
		out.Checks = append(out.Checks, s.assert(env, a, ectx))
	}
	var failed []*result.Check
	for i := range out.Checks {
		c := &out.Checks[i]
		if c.Message != "" {
			c.Message = red().String(c.Message)
		}
		if c.Status != result.Passed {
			c.Name = red().String(c.Name)
			failed = append(failed, c)
		}
		if c.Status.Worse(out.Status) {
			out.Status = c.Status
		}
	}
	out.Message, out.First = failures(failed, s.usedAt)
}

// saysStatus reports whether the step judges the status itself: with
// expect.status, or an assert that reads response.status (or the whole
// response).
// SaysStatus is saysStatus, for the load generator: a step that judges
// the status itself is not held to 200–399 under load either.
func (s *Step) SaysStatus() bool { return s.saysStatus() }

func (s *Step) saysStatus() bool {
	s.statusOnce.Do(func() {
		if s.Expect != nil && s.Expect.Status != nil {
			s.saysStatusV = true
			return
		}
		for _, a := range s.Asserts {
			for _, tr := range a.Condition.Variables() {
				if tr.RootName() == "response" && (len(tr) < 2 || attrName(tr[1]) == "status") {
					s.saysStatusV = true
					return
				}
			}
		}
	})
	return s.saysStatusV
}

// usedAt is what a failure of a check at loc adds to its location: when
// the check is written in the step_template that s uses, the step that
// uses it (both places, as the load-time diagnostics give them).
func (s *Step) usedAt(loc string) string {
	if s.Template == nil || !s.Template.Within(loc) {
		return ""
	}
	return fmt.Sprintf(" (in step_template %q, used by step %q at %s)", s.Template.Name, s.Name, config.Location(s.DeclRange))
}

// failures is the message of a step whose checks failed: every failure in
// full, one after the other; and the first one in full with the names of
// the others, for one-line places (the terminal, the verdict).
func failures(failed []*result.Check, usedAt func(loc string) string) (all, first string) {
	if len(failed) == 0 {
		return "", ""
	}
	parts := make([]string, len(failed))
	for i, c := range failed {
		parts[i] = checkFailure(c, usedAt(c.Location))
	}
	first = parts[0]
	if n := len(failed) - 1; n > 0 {
		names := make([]string, n)
		for i, c := range failed[1:] {
			names[i] = c.Name
		}
		word := "checks"
		if n == 1 {
			word = "check"
		}
		first += fmt.Sprintf("\n(and %d more failed %s: %s)", n, word, strings.Join(names, ", "))
	}
	return strings.Join(parts, "\n"), first
}

// checkFailure is "NAME at FILE:LINE:" (with where its step_template was
// used, usedAt) and the check's message, indented.
func checkFailure(c *result.Check, usedAt string) string {
	return fmt.Sprintf("%s at %s%s:\n%s", c.Name, c.Location, usedAt, indent(c.Message, "  "))
}

func indent(s, by string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = by + l
		}
	}
	return strings.Join(lines, "\n")
}

// usesResponse reports whether an assert or a capture refers to the
// response, which is then turned into an HCL value (decoding a JSON body
// into cty is the costliest part of a step under load).
func (s *Step) usesResponse() bool {
	s.responseOnce.Do(func() {
		var exprs []hcl.Expression
		for _, a := range s.Asserts {
			exprs = append(exprs, a.Condition)
			if a.Message != nil {
				exprs = append(exprs, a.Message)
			}
		}
		for _, c := range s.Captures {
			exprs = append(exprs, c.Expr)
		}
		for _, e := range exprs {
			for _, tr := range e.Variables() {
				if tr.RootName() != "response" {
					continue
				}
				s.needsResponse = true
				// Only the fields something reads are built (decoding the
				// JSON body and copying the headers cost the most); reading
				// the response as a whole builds them all.
				name := ""
				if len(tr) >= 2 {
					name = attrName(tr[1])
				}
				if name == "" {
					s.allFields = true
				} else {
					if s.fields == nil {
						s.fields = map[string]bool{}
					}
					s.fields[name] = true
				}
			}
		}
		s.statusOnly = s.needsResponse && onlyStatus(s.wants)
	})
	return s.needsResponse
}

// wants reports whether the response field name must be built; name ""
// asks whether the response is read as a whole.
func (s *Step) wants(name string) bool { return s.allFields || (name != "" && s.fields[name]) }

func attrName(t hcl.Traverser) string {
	switch a := t.(type) {
	case hcl.TraverseAttr:
		return a.Name
	case hcl.TraverseIndex:
		if a.Key.Type() == cty.String {
			return a.Key.AsString()
		}
	}
	return ""
}

// withSecrets returns red with secrets added, built once.
func withSecrets(red func() *Redactor, secrets []string) func() *Redactor {
	var r *Redactor
	return func() *Redactor {
		if r == nil {
			r = red().With(secrets...)
		}
		return r
	}
}

func (s *Step) errored(red *Redactor, err error) Outcome {
	return Outcome{Status: result.Errored, Message: red.String(err.Error()), Err: err}
}

// keepsText reports whether the outcome keeps any text to redact.
func (o *Outcome) keepsText() bool {
	if o.Exchange != nil || o.Message != "" {
		return true
	}
	for _, c := range o.Checks {
		if c.Message != "" || c.Status != result.Passed {
			return true
		}
	}
	return false
}

// redactAgain redacts what the outcome keeps with red (which knows more
// secrets than the redactor that made it).
func (o *Outcome) redactAgain(red *Redactor) {
	o.Message, o.First = red.String(o.Message), red.String(o.First)
	for i := range o.Checks {
		o.Checks[i].Name, o.Checks[i].Message = red.String(o.Checks[i].Name), red.String(o.Checks[i].Message)
	}
	if x := o.Exchange; x != nil {
		x.URL, x.Query = red.String(x.URL), red.String(x.Query)
		x.RequestBody, x.ResponseBody = red.String(x.RequestBody), red.String(x.ResponseBody)
		for _, h := range []map[string]string{x.RequestHeaders, x.ResponseHeaders} {
			for k, v := range h {
				h[k] = red.String(v)
			}
		}
	}
}

// checkName is the name of an assert's check, with the secrets of the
// env's redactor taken out of its error_message (computed once).
func (a *Assert) checkName(red *Redactor) string {
	if n := a.name.Load(); n != nil && n.red == red {
		return n.name
	}
	n := &assertName{red: red, name: red.String(fmt.Sprintf("assert %q", a.ErrorMessage))}
	a.name.Store(n)
	return n.name
}

type assertName struct {
	red  *Redactor
	name string
}

func (s *Step) assert(env *Env, a *Assert, ctx *hcl.EvalContext) result.Check {
	c := result.Check{Name: a.checkName(env.Redact), Status: result.Passed, Location: config.Location(a.DeclRange)}
	v, diags := a.Condition.Value(ctx)
	if diags.HasErrors() {
		tainted := s.tainted(env, a.Condition)
		c.Status, c.Message = result.Errored, "the condition could not be evaluated:\n"+s.renderEval(diags, env, tainted, ctx)
		return c
	}
	if v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool {
		c.Status = result.Errored
		c.Message = s.render(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "The condition is not true or false",
			Detail: "An assert condition must give a boolean.", Subject: a.Condition.Range().Ptr(), Expression: a.Condition, EvalContext: s.placeholders(env, redactContext(ctx))}}, env, false)
		return c
	}
	if !v.True() {
		c.Status = result.Failed
		msg := a.ErrorMessage
		if a.Message != nil {
			tainted := s.tainted(env, a.Message)
			mctx := redactContext(ctx)
			if tainted {
				// An error_message computed from a secret may hold any
				// piece or form of it (upper(), substr()), which no
				// redactor knows: it is computed from [REDACTED] in the
				// secret's place, or, when that cannot be, shown as written.
				mctx = s.placeholders(env, mctx)
			}
			if m, diags := a.Message.Value(mctx); tainted && (diags.HasErrors() || !isString(m)) {
				msg = a.ErrorMessage + " (as written: it uses a sensitive value)"
			} else {
				text, ok := stringValue(m)
				if diags.HasErrors() || !ok {
					if !diags.HasErrors() {
						diags = hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "The error_message is not a string",
							Detail: "An error_message must give a string.", Subject: a.Message.Range().Ptr()}}
					}
					c.Status = result.Errored
					c.Message = "the condition is false, and its error_message could not be evaluated:\n" + s.render(diags, env, false)
					return c
				}
				msg = text
			}
		}
		// The values the condition read are shown with its secrets'
		// [REDACTED] in their place (capture.token, not a piece of it).
		c.Message = s.render(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: msg,
			Subject: a.Condition.Range().Ptr(), Expression: a.Condition, EvalContext: s.placeholders(env, redactContext(ctx))}}, env, false)
	}
	return c
}

// renderEval renders the diagnostics of evaluating, in ctx, an expression
// that uses a secret when tainted: a function's own message is left out
// (scrubbed), the values read in ctx are shown with the secrets'
// [REDACTED] in their place, and those of a context inside the expression
// are not shown (a for's element of split(".", capture.token) is a piece
// of the secret).
func (s *Step) renderEval(diags hcl.Diagnostics, env *Env, tainted bool, ctx *hcl.EvalContext) string {
	if !tainted {
		return s.render(diags, env, false)
	}
	diags = scrubbed(diags, true)
	for _, d := range diags { // scrubbed's copies
		if d.EvalContext == ctx {
			d.EvalContext = s.placeholders(env, ctx)
		} else {
			d.Expression, d.EvalContext = nil, nil
		}
	}
	return s.render(diags, env, false)
}

// render prints diagnostics the way `cloudtest validate` does: the source
// line and, for an expression, each value it referred to; tainted leaves
// the values out.
func (s *Step) render(diags hcl.Diagnostics, env *Env, tainted bool) string {
	if tainted {
		out := make(hcl.Diagnostics, len(diags))
		for i, d := range diags {
			cp := *d
			cp.Expression, cp.EvalContext = nil, nil
			out[i] = &cp
		}
		diags = out
	}
	var buf bytes.Buffer
	w := hcl.NewDiagnosticTextWriter(&buf, env.Config.Files, 0, false)
	w.WriteDiagnostics(diags)
	return strings.TrimSpace(buf.String())
}

// scrubbed is diags, from evaluating an expression that uses a secret
// (tainted), with the details of failed function calls left out: a
// function's error quotes its argument ("failed to decode base64 data
// '…'"), which may be a piece of the secret. (render, told tainted, leaves
// out the values they were evaluated with.)
func scrubbed(diags hcl.Diagnostics, tainted bool) hcl.Diagnostics {
	if !tainted {
		return diags
	}
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		cp := *d
		if cp.Summary == "Error in function call" || cp.Summary == "Invalid function argument" {
			cp.Detail = "(The function's own message is left out: the expression uses a sensitive value.)"
		}
		out[i] = &cp
	}
	return out
}

// placeholders returns ctx with every secret the step can read replaced
// by [REDACTED] (each string of it; the values around it kept): the
// sensitive variables and locals, the sensitive captures and the params
// given a secret. An expression evaluated in it computes its text from
// the placeholder, never from a piece of the secret.
func (s *Step) placeholders(env *Env, ctx *hcl.EvalContext) *hcl.EvalContext {
	hide := map[string]func(string) bool{
		"capture": func(name string) bool {
			if env.sensitive.anyOf([]string{name}) {
				return true
			}
			for _, c := range s.Captures {
				if c.Sensitive && c.Name == name {
					return true
				}
			}
			return false
		},
	}
	if env.Config != nil {
		hide["var"], hide["local"] = env.Config.SensitiveVariable, env.Config.SensitiveLocal
	}
	if s.params != nil {
		hide["param"] = func(name string) bool { return s.secretParam(env, name) }
	}
	for root, attrs := range env.SecretVars {
		if len(attrs) > 0 {
			hide[root] = func(name string) bool { return slices.Contains(attrs, name) }
		}
	}
	vars := map[string]cty.Value{}
	if paths := s.secretResponsePaths(); len(paths) > 0 {
		if resp, ok := lookupRoot(ctx, "response"); ok {
			resp, _ = resp.Unmark()
			for _, p := range paths {
				resp = replaceAt(resp, p)
			}
			vars["response"] = resp
		}
	}
	for root, secret := range hide {
		v, ok := lookupRoot(ctx, root)
		if ok {
			v, _ = v.Unmark()
		}
		if !ok || v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() {
			continue
		}
		attrs := v.AsValueMap()
		changed := false
		for name, av := range attrs {
			if secret(name) {
				attrs[name], changed = placeholder(av), true
			}
		}
		if changed {
			vars[root] = cty.ObjectVal(attrs)
		}
	}
	if len(vars) == 0 {
		return ctx
	}
	child := ctx.NewChild()
	child.Variables = vars
	return child
}

// secretResponsePaths are the parts of the response that the step's
// sensitive captures read (["json", "token"] for response.json.token;
// [] for the whole response), worked out once.
func (s *Step) secretResponsePaths() [][]string {
	s.secretOnce.Do(func() {
		for _, c := range s.Captures {
			if !c.Sensitive {
				continue
			}
			for _, tr := range c.Expr.Variables() {
				if tr.RootName() == "response" {
					s.secretPaths = append(s.secretPaths, traversalPath(tr))
				}
			}
		}
	})
	return s.secretPaths
}

// traversalPath is a traversal's steps after its root, as names ("0" for
// an index); it stops at a step it cannot name (a splat).
func traversalPath(tr hcl.Traversal) []string {
	var out []string
	for _, t := range tr[1:] {
		switch a := t.(type) {
		case hcl.TraverseAttr:
			out = append(out, a.Name)
		case hcl.TraverseIndex:
			switch {
			case a.Key.Type() == cty.String:
				out = append(out, a.Key.AsString())
			case a.Key.Type() == cty.Number:
				out = append(out, a.Key.AsBigFloat().Text('f', -1))
			default:
				return out
			}
		default:
			return out
		}
	}
	return out
}

// overlaps reports whether one path is the start of the other.
func overlaps(a, b []string) bool {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// replaceAt is v with the value at path replaced by its placeholder (v
// unchanged when path is not in it).
func replaceAt(v cty.Value, path []string) cty.Value {
	if len(path) == 0 {
		return placeholder(v)
	}
	if v.IsNull() || !v.IsKnown() {
		return v
	}
	t := v.Type()
	switch {
	case t.IsObjectType() || t.IsMapType():
		m := v.AsValueMap()
		e, ok := m[path[0]]
		if !ok {
			return v
		}
		m[path[0]] = replaceAt(e, path[1:])
		if t.IsMapType() {
			return cty.ObjectVal(m) // its element may now differ in type
		}
		return cty.ObjectVal(m)
	case t.IsTupleType() || t.IsListType():
		l := v.AsValueSlice()
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(l) {
			return v
		}
		l[i] = replaceAt(l[i], path[1:])
		return cty.TupleVal(l)
	}
	return v
}

// lookupRoot is the value of the root variable name in ctx or its parents.
func lookupRoot(ctx *hcl.EvalContext, name string) (cty.Value, bool) {
	for c := ctx; c != nil; c = c.Parent() {
		if v, ok := c.Variables[name]; ok {
			return v, true
		}
	}
	return cty.NilVal, false
}

// placeholder is v with each string (and number) in it replaced by
// [REDACTED], its shape kept.
func placeholder(v cty.Value) cty.Value {
	v, _ = v.Unmark() // (for a message only: its marks do not matter there)
	if v.IsNull() || !v.IsKnown() {
		return v
	}
	t := v.Type()
	switch {
	case t == cty.String || t == cty.Number:
		return cty.StringVal(Redacted)
	case t.IsObjectType():
		m := v.AsValueMap()
		for k, e := range m {
			m[k] = placeholder(e)
		}
		return cty.ObjectVal(m)
	case t.IsMapType() || t.IsListType() || t.IsTupleType() || t.IsSetType():
		var l []cty.Value
		m := map[string]cty.Value{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if t.IsMapType() {
				m[k.AsString()] = placeholder(e)
			} else {
				l = append(l, placeholder(e))
			}
		}
		switch {
		case t.IsMapType():
			return cty.ObjectVal(m)
		case len(l) == 0:
			return cty.EmptyTupleVal
		}
		return cty.TupleVal(l)
	}
	return v
}

func isString(v cty.Value) bool {
	_, ok := stringValue(v)
	return ok
}

// tainted reports whether any of exprs reads a secret: a sensitive
// variable or local or sensitive(), a sensitive capture or a param given
// a secret. (A secret in the response, that a sensitive capture of the
// step reads, is learned and redacted as it is.)
func (s *Step) tainted(env *Env, exprs ...hcl.Expression) bool {
	for _, e := range exprs {
		if e == nil {
			continue
		}
		if env.Config != nil && env.Config.IsSensitive(e) {
			return true
		}
		if s.readsSecret(env, e.Variables()) {
			return true
		}
	}
	return false
}

// secretStrings are the strings of a sensitive capture's value v to match
// in text. Of one computed from a secret (derived), not those too short to
// be told from other text, nor true and false: it is a placeholder where
// it is read, and each.value.limit = 2 (or ok = capture.token != "")
// would take every 2 (every true) of every output.
func secretStrings(v cty.Value, derived bool) []string {
	if !derived {
		return captureStrings(v)
	}
	return longStrings(captureStrings(v))
}

// longStrings are those of ss at least minForm bytes long, but for true
// and false.
func longStrings(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if len(s) >= minForm && s != "true" && s != "false" {
			out = append(out, s)
		}
	}
	return out
}

// lateSecret says whether capture c, not sensitive by itself, is computed
// from a secret known only at run time: a sensitive capture, a param
// given a secret, each.value of a secret for_each, a sensitive feed
// column (capture { p = upper(feed.password) }).
func (s *Step) lateSecret(env *Env, c *Capture) bool { return s.readsSecret(env, c.late) }

// readsSecret says whether one of the references trs reads a secret of
// this run: a sensitive capture (the whole capture object holds them
// all), a param given a secret (the whole param object: any such), a
// secret attribute of a run-time root (SecretVars), or what a sensitive
// capture of this step reads of the response (response.json.token), or
// a part of it.
func (s *Step) readsSecret(env *Env, trs []hcl.Traversal) bool {
	for _, tr := range trs {
		switch tr.RootName() {
		case "capture":
			if env.secretCapture(tr) {
				return true
			}
			for _, c := range s.Captures { // this step's own, before it took them
				if c.Sensitive && (len(tr) < 2 || attrName(tr[1]) == c.Name) {
					return true
				}
			}
		case "param":
			if s.params == nil {
				continue
			}
			if len(tr) >= 2 && s.secretParam(env, attrName(tr[1])) {
				return true
			}
			if len(tr) < 2 {
				for name := range s.params.Sensitive { // (it holds every param)
					if s.secretParam(env, name) {
						return true
					}
				}
			}
		case "response":
			p := traversalPath(tr)
			for _, sp := range s.secretResponsePaths() {
				if overlaps(p, sp) {
					return true
				}
			}
		default:
			if env.runSecret(tr) {
				return true
			}
		}
	}
	return false
}

// secretParam says whether the step_template param name holds a secret in
// this run: given one at load (a sensitive variable or local, sensitive(),
// a sensitive param), or given a late argument that reads each.value of a
// secret for_each or a sensitive capture.
func (s *Step) secretParam(env *Env, name string) bool {
	if s.params == nil {
		return false
	}
	if s.params.Sensitive[name] {
		return true
	}
	expr, ok := s.params.Late[name]
	return ok && env.readsRunSecret(expr)
}

// readsRunSecret says whether expr reads a secret known only at run time:
// a secret attribute of a run-time root (each.value of a secret for_each,
// a sensitive feed column), or a capture that is sensitive.
func (e *Env) readsRunSecret(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		if e.lateSecretRef(tr) {
			return true
		}
	}
	return false
}

// lateSecretRef says whether tr reads a secret known only at run time: a
// sensitive capture, or a secret attribute of a run-time root.
func (e *Env) lateSecretRef(tr hcl.Traversal) bool {
	if tr.RootName() == "capture" {
		return e.secretCapture(tr)
	}
	return e.runSecret(tr)
}

// secretCapture says whether tr, rooted at capture, reads a capture known
// to be sensitive; the whole object (lookup(capture, "tok", "")) holds
// every capture, the sensitive ones too.
func (e *Env) secretCapture(tr hcl.Traversal) bool {
	if len(tr) < 2 {
		return e.sensitive.any()
	}
	return e.sensitive.anyOf([]string{attrName(tr[1])})
}

// runSecret says whether tr reads a secret attribute of a run-time root
// (SecretVars), or the whole root when it has one.
func (e *Env) runSecret(tr hcl.Traversal) bool {
	attrs := e.SecretVars[tr.RootName()]
	if len(attrs) == 0 {
		return false
	}
	return len(tr) < 2 || slices.Contains(attrs, attrName(tr[1]))
}

// lateArgs are the arguments of a step_template's params known only at
// run time.
func lateArgs(p *config.ParamArgs) []hcl.Expression {
	out := make([]hcl.Expression, 0, len(p.Late))
	for _, e := range p.Late {
		out = append(out, e)
	}
	return out
}

func (s *Step) httpExcerpt(red *Redactor, x *httpExchange) *result.Exchange {
	ex := &result.Exchange{
		Protocol: "http", Method: x.req.Method, URL: red.String(x.req.URL.String()),
		RequestHeaders: red.Headers(x.req.Header), Status: x.resp.StatusCode,
		ResponseHeaders: red.Headers(x.resp.Header),
	}
	var cut1, cut2 bool
	ex.RequestBody, cut1 = red.Body(x.reqBody)
	ex.ResponseBody, cut2 = red.ResponseBody(x.body)
	ex.Truncated = cut1 || cut2
	return ex
}

func rowsExcerpt(r *sqlResult) []byte {
	var b bytes.Buffer
	b.WriteString(strings.Join(r.columns, " | "))
	for _, row := range r.rows {
		b.WriteByte('\n')
		for i, c := range r.columns {
			if i > 0 {
				b.WriteString(" | ")
			}
			fmt.Fprint(&b, row[c])
		}
	}
	return b.Bytes()
}

// stringValue converts a known value to a string (numbers and booleans
// convert as in HCL templates).
func stringValue(v cty.Value) (string, bool) {
	if v.IsNull() || !v.IsWhollyKnown() {
		return "", false
	}
	v, _ = v.UnmarkDeep()
	sv, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", false
	}
	return sv.AsString(), true
}

// isStatusTraversal: e is response.status (the commonest capture under
// load), nothing more.
func isStatusTraversal(e hcl.Expression) bool {
	t, ok := e.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(t.Traversal) != 2 || t.Traversal.RootName() != "response" {
		return false
	}
	a, ok := t.Traversal[1].(hcl.TraverseAttr)
	return ok && a.Name == "status"
}

// sameMap says whether a and b are the same map (not equal ones).
func sameMap(a, b map[string]cty.Value) bool {
	return a != nil && b != nil && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// noCopy makes go vet's copylocks check flag a copy of what holds it.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
