package security

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

// session is one run of a suite: the guard, the clients and what the
// identities logged in with.
type session struct {
	s     *Suite
	env   *runner.Env
	guard *Guard
	senv  *step.Env
	base  string
	// headers of each identity that logged in; idErr says why one did not.
	headers map[string]map[string]string
	idErr   map[string]error
	// creds are the strings each identity's login steps captured.
	creds map[string][]string
}

// maxEvidence bounds the response excerpt kept as evidence of a finding.
const maxEvidence = 2048

// probeTimeout bounds every request a check sends.
const probeTimeout = 10 * time.Second

// Run checks the scope, logs the identities in, runs the checks and the
// drills, and classifies the findings against the waivers and the expected
// (planted) findings.
func (s *Suite) Run(ctx context.Context, env *runner.Env) runner.Outcome {
	ss, err := s.newSession(ctx, env)
	if err != nil {
		return runner.Outcome{Status: result.Errored, Message: err.Error()}
	}
	defer ss.senv.Close()
	sum := &result.SecuritySummary{Target: s.Target, Scope: s.Scope.Allow, Expected: s.Expect}
	ss.login(ctx)
	v := &verdict{status: result.Passed}
	runs := ss.runChecks(ctx, sum)
	s.classify(sum, env)
	for _, r := range runs {
		ss.recordCheck(r, sum, v)
	}
	ss.recordExpected(sum, v)
	ss.runDrills(ctx, sum, v)
	if ctx.Err() != nil {
		v.worse(result.Errored, "interrupted: the findings so far are kept")
	}
	sum.Requests, sum.Refused = ss.guard.Counts()
	data, _ := json.Marshal(sum)
	return runner.Outcome{Status: v.status, Message: strings.Join(v.messages, "\n"), Data: data}
}

// newSession opens the scope guard and the clients of a run.
func (s *Suite) newSession(ctx context.Context, env *runner.Env) (*session, error) {
	guard, err := NewGuard(ctx, s.Scope.Allow, s.Scope.MaxRequests, s.Scope.Rate)
	if err != nil {
		return nil, err
	}
	senv, err := step.NewEnv(env.Config, env.URLs(), s.Target)
	if err != nil {
		return nil, err
	}
	// The steps' transports (each host's TLS settings) are the checks' too:
	// SetDial makes them open every connection through the guard, one a
	// request, with no proxy.
	senv.SetDial(guard.Dial)
	ss := &session{s: s, env: env, guard: guard, senv: senv, headers: map[string]map[string]string{}, idErr: map[string]error{}, creds: map[string][]string{}}
	if env.Target != nil {
		ss.base = strings.TrimRight(env.Target.URL, "/")
	}
	return ss, nil
}

// verdict is the suite's status so far and the messages that explain it.
type verdict struct {
	status   result.Status
	messages []string
}

func (v *verdict) worse(st result.Status, msg string) {
	if st.Worse(v.status) {
		v.status = st
	}
	if msg != "" {
		v.messages = append(v.messages, msg)
	}
}

// checkRun is one check as it ran, before its findings are classified.
type checkRun struct {
	c        *Check
	findings []result.Finding
	err      error
	dur      time.Duration
}

func (ss *session) runChecks(ctx context.Context, sum *result.SecuritySummary) []checkRun {
	var runs []checkRun
	for _, c := range ss.s.Checks {
		if ctx.Err() != nil {
			break
		}
		ss.env.Status("check " + c.Kind)
		start := time.Now()
		fs, err := c.settings.run(ctx, ss)
		runs = append(runs, checkRun{c, fs, err, time.Since(start)})
		sum.Findings = append(sum.Findings, fs...)
	}
	return runs
}

// recordCheck records a check as a step of the checks case: failed by its
// open findings at fail_on or above, errored when it could not be carried
// out.
func (ss *session) recordCheck(r checkRun, sum *result.SecuritySummary, v *verdict) {
	s := ss.s
	cr := result.CheckRun{Name: r.c.Kind, Findings: len(r.findings)}
	st, msg := result.Passed, ""
	var open []string
	for _, f := range sum.Findings {
		if f.Check == r.c.Kind && f.Status == "open" && severityRank(f.Severity) >= severityRank(s.FailOn) {
			open = append(open, fmt.Sprintf("%s (%s) at %s", f.ID, f.Severity, f.Where))
		}
	}
	if len(open) > 0 {
		st, msg = result.Failed, fmt.Sprintf("%d finding(s) not waived: %s", len(open), strings.Join(open, "; "))
	}
	if r.err != nil {
		cr.Error = ss.senv.Redact.String(r.err.Error())
		st, msg = result.Errored, "the check could not be carried out: "+cr.Error
	}
	sum.Checks = append(sum.Checks, cr)
	ss.env.Record(result.Result{Level: result.LevelStep, Case: "checks", Step: r.c.Kind, Phase: "test", Status: st,
		Message: msg, DurationMS: result.MS(r.dur), Location: config.Location(r.c.DeclRange)})
	if st != result.Passed {
		v.worse(st, fmt.Sprintf("check %s: %s", r.c.Kind, msg))
	}
}

// recordExpected records the negative control as a step of the checks of
// its own, so that the checks case (and a CI test tab) fails with the suite
// when a planted weakness was not found.
func (ss *session) recordExpected(sum *result.SecuritySummary, v *verdict) {
	s := ss.s
	if len(s.Expect) == 0 {
		return
	}
	st, msg := result.Passed, fmt.Sprintf("all %d expected (planted) findings were found", len(s.Expect))
	if len(sum.Missing) > 0 {
		st, msg = result.Failed, fmt.Sprintf("expected (planted) findings not found: %s — the checks missed a known weakness", strings.Join(sum.Missing, ", "))
		v.worse(st, msg)
	}
	ss.env.Record(result.Result{Level: result.LevelStep, Case: "checks", Step: "expected findings", Phase: "test", Status: st,
		Message: msg, Location: config.Location(s.ExpectRange)})
}

func (ss *session) runDrills(ctx context.Context, sum *result.SecuritySummary, v *verdict) {
	for _, dr := range ss.s.Drills {
		if ctx.Err() != nil {
			break
		}
		ss.env.Status("drill " + dr.Name)
		run, st, msg := ss.runDrill(ctx, dr)
		sum.Drills = append(sum.Drills, run)
		if st != result.Passed {
			v.worse(st, fmt.Sprintf("drill %q: %s", dr.Name, msg))
		}
	}
}

// classify marks each finding open, waived (by a waiver in force) or
// expected, and lists the expected findings that were not found.
func (s *Suite) classify(sum *result.SecuritySummary, env *runner.Env) {
	now := time.Now()
	states := make([]result.WaiverState, len(s.Waivers))
	for i, w := range s.Waivers {
		states[i] = result.WaiverState{Finding: w.Finding, Where: w.Where, Reason: w.Reason, Approver: w.Approver,
			Expires: w.Expires.Format("2006-01-02"), Expired: now.After(w.Expires.Add(24 * time.Hour))}
	}
	found := map[string]bool{}
	for i := range sum.Findings {
		f := &sum.Findings[i]
		found[f.ID] = true
		f.Status = "open"
		for j, w := range s.Waivers {
			if w.Finding == f.ID && (w.Where == "" || w.Where == f.Where) && !states[j].Expired {
				f.Status, f.Waiver = "waived", fmt.Sprintf("%s (%s, until %s)", w.Finding, w.Approver, states[j].Expires)
				states[j].Matched++
				break
			}
		}
		if f.Status == "open" && contains(s.Expect, f.ID) {
			f.Status = "expected"
		}
	}
	for _, id := range s.Expect {
		if !found[id] {
			sum.Missing = append(sum.Missing, id)
		}
	}
	sort.SliceStable(sum.Findings, func(i, j int) bool {
		a, b := sum.Findings[i], sum.Findings[j]
		if a.Severity != b.Severity {
			return severityRank(a.Severity) > severityRank(b.Severity)
		}
		return a.Check < b.Check
	})
	sum.Waivers = states
}

// login runs each identity's steps and evaluates its headers. The
// credentials the identities obtain are added to the redactor, so that no
// live session token reaches the report (not even in the login's own
// answer, recorded after).
func (ss *session) login(ctx context.Context) {
	secrets := ss.env.Config.SensitiveValues()
	var pending []result.Result
	for _, id := range ss.s.Identities {
		captures := map[string]cty.Value{}
		var err error
		for _, st := range id.Steps {
			out := st.Run(ctx, ss.senv, captures)
			pending = append(pending, result.Result{Level: result.LevelStep, Case: "identity " + id.Name, Step: st.Name, Phase: "setup",
				Status: out.Status, Message: out.Message, DurationMS: result.MS(out.Duration), Location: config.Location(st.DeclRange),
				Checks: out.Checks, Exchange: out.Exchange})
			if out.Status != result.Passed {
				err = fmt.Errorf("identity %q could not log in: step %q %s: %s", id.Name, st.Name, out.Status, out.Message)
				break
			}
			for k, v := range out.Captures {
				captures[k] = v
				if v.Type() == cty.String && !v.IsNull() && v.IsKnown() && len(v.AsString()) >= 8 {
					secrets = append(secrets, v.AsString())
					ss.creds[id.Name] = append(ss.creds[id.Name], v.AsString())
				}
			}
		}
		if err == nil {
			ectx := ss.env.Config.EvalContext(map[string]cty.Value{"capture": cty.ObjectVal(captures)})
			v, diags := id.Headers.Value(ectx)
			hdr := map[string]string{}
			if diags.HasErrors() {
				err = fmt.Errorf("identity %q: headers: %s", id.Name, diags.Error())
			} else if v.IsKnown() && !v.IsNull() && v.CanIterateElements() {
				for it := v.ElementIterator(); it.Next(); {
					k, e := it.Element()
					if e.Type() == cty.String && !e.IsNull() {
						hdr[k.AsString()] = e.AsString()
						secrets = append(secrets, e.AsString())
					}
				}
			}
			ss.headers[id.Name] = hdr
		}
		if err != nil {
			ss.idErr[id.Name] = err
		}
	}
	ss.senv.Redact = step.NewRedactor(secrets)
	for _, r := range pending {
		r.Message = ss.senv.Redact.String(r.Message)
		redactExchange(ss.senv.Redact, r.Exchange)
		ss.env.Record(r)
	}
}

func redactExchange(red *step.Redactor, x *result.Exchange) {
	if x == nil {
		return
	}
	x.URL, x.RequestBody, x.ResponseBody = red.String(x.URL), red.String(x.RequestBody), red.String(x.ResponseBody)
	for _, h := range []map[string]string{x.RequestHeaders, x.ResponseHeaders} {
		for k, v := range h {
			h[k] = red.String(v)
		}
	}
}

// identity returns the headers of the named identity (the first declared
// when name is empty).
func (ss *session) identity(name string) (map[string]string, error) {
	if name == "" {
		if len(ss.s.Identities) == 0 {
			return nil, errors.New("this check needs an identity: declare identity \"name\" { step \"login\" { ... } headers = { ... } }")
		}
		name = ss.s.Identities[0].Name
	}
	if err := ss.idErr[name]; err != nil {
		return nil, err
	}
	return ss.headers[name], nil
}

// answer is one response as a check sees it.
type answer struct {
	status int
	header http.Header
	body   []byte
	dur    time.Duration
	ex     *result.Exchange
}

func (ss *session) url(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return ss.base + path
}

// send sends one request through the scope guard and keeps a redacted
// excerpt for evidence.
// A check judges the first answer; a redirect is an answer.
func (ss *session) send(ctx context.Context, method, url string, hdr map[string]string, body []byte) (*answer, error) {
	return ss.sendWith(ctx, ss.senv.Client(url, false), method, url, hdr, body)
}

func (ss *session) sendWith(ctx context.Context, client *http.Client, method, url string, hdr map[string]string, body []byte) (*answer, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "cloudtest-security")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, url, err)
	}
	a := &answer{status: resp.StatusCode, header: resp.Header, body: b, dur: time.Since(start)}
	red := ss.senv.Redact
	a.ex = &result.Exchange{Protocol: "http", Method: method, URL: red.String(url), RequestHeaders: red.Headers(req.Header),
		Status: resp.StatusCode, ResponseHeaders: red.Headers(resp.Header)}
	a.ex.RequestBody, _ = red.Body(body)
	excerpt := b
	if len(excerpt) > maxEvidence {
		excerpt, a.ex.Truncated = excerpt[:maxEvidence], true
	}
	// Evidence shows what the target sent, with the secret-looking values
	// in it (an exposed .env's keys, a token in an answer) masked.
	a.ex.ResponseBody, _ = red.ResponseBody(excerpt)
	return a, nil
}

func (ss *session) get(ctx context.Context, path string, hdr map[string]string) (*answer, error) {
	return ss.send(ctx, http.MethodGet, ss.url(path), hdr, nil)
}

func finding(check, rule, severity, title, where, detail, ref string, a *answer) result.Finding {
	f := result.Finding{ID: check + "/" + rule, Check: check, Severity: severity, Title: title, Where: where, Detail: detail, Reference: ref}
	if a != nil {
		f.Evidence = a.ex
	}
	return f
}
