// Package functional runs functional suites: cases made of ordered steps
// whose captures flow from one step to the next, with setup steps before
// the cases and teardown steps that always run after them.
package functional

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
)

// Kind is the functional block kind, for the loader's list of kinds.
var Kind = runner.NewKind("functional", decode, Schema)

// Suite is a decoded functional block.
type Suite struct {
	config.SuiteCommon
	// Parallel runs the cases concurrently (each with its own captures).
	Parallel bool
	Setup    []*step.Step
	Cases    []*Case
	Teardown []*step.Step
}

// A Suite can run: the compiler checks what the plan needs.
var _ runner.Suite = (*Suite)(nil)

// Case is an ordered list of steps; with for_each a case block becomes one
// case per element, named "case[key]", and its steps see each.key and
// each.value.
type Case struct {
	Name string
	// Each is object{key, value} for a case made by for_each; HasEach says it is set.
	Each    cty.Value
	HasEach bool
	// EachSecret: the for_each reads a secret (a sensitive variable or
	// local), so each.value is one.
	EachSecret bool
	Steps      []*step.Step
	DeclRange  hcl.Range
	// order is the case's place in the suite, from 1 (result.Result.Order).
	order int
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "parallel"}},
	Blocks: []hcl.BlockHeaderSchema{
		step.BlockSchema,
		{Type: "case", LabelNames: []string{"name"}},
		{Type: "setup"},
		{Type: "teardown"},
	},
}

var caseSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "for_each"}},
	Blocks:     []hcl.BlockHeaderSchema{step.BlockSchema},
}

var stepsSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{step.BlockSchema}}

func decode(common *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (runner.Suite, hcl.Diagnostics) {
	s := &Suite{SuiteCommon: *common}
	content, diags := body.Content(schema)
	if a, ok := content.Attributes["parallel"]; ok {
		v, d := dc.Bool(a)
		diags = append(diags, d...)
		s.Parallel = v
	}
	var direct []*step.Step
	var directRange *hcl.Range
	for _, b := range content.Blocks {
		switch b.Type {
		case "step":
			st, d := step.Decode(b, dc)
			diags = append(diags, d...)
			if st != nil {
				direct = append(direct, st)
			}
			if directRange == nil {
				directRange = b.DefRange.Ptr()
			}
		case "setup", "teardown":
			steps, d := decodeSteps(b, dc)
			diags = append(diags, d...)
			if b.Type == "setup" {
				s.Setup = append(s.Setup, steps...)
			} else {
				s.Teardown = append(s.Teardown, steps...)
			}
		case "case":
			cases, d := decodeCase(b, dc)
			diags = append(diags, d...)
			s.Cases = append(s.Cases, cases...)
		}
	}
	if len(direct) > 0 && len(s.Cases) > 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Steps outside a case",
			Detail:   fmt.Sprintf("Functional suite %q has case blocks, so its steps must be inside a case (or in setup or teardown).", s.Name),
			Subject:  directRange,
		})
	}
	if len(direct) > 0 {
		s.Cases = []*Case{{Name: s.Name, Steps: direct, DeclRange: s.DeclRange}}
	}
	if len(s.Cases) == 0 && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Functional suite without steps",
			Detail:   fmt.Sprintf("Functional suite %q needs at least one step block (or case blocks with steps).", s.Name),
			Subject:  s.DeclRange.Ptr(),
		})
	}
	diags = append(diags, checkUniqueSteps(s)...)
	for i, c := range s.Cases {
		c.order = i + 1
	}
	return s, diags
}

func decodeSteps(b *hcl.Block, dc *config.DecodeContext) ([]*step.Step, hcl.Diagnostics) {
	content, diags := b.Body.Content(stepsSchema)
	return decodeStepBlocks(content.Blocks, dc, diags)
}

// decodeStepBlocks decodes step blocks after diags, leaving out those that
// cannot be decoded.
func decodeStepBlocks(blocks hcl.Blocks, dc *config.DecodeContext, diags hcl.Diagnostics) ([]*step.Step, hcl.Diagnostics) {
	var out []*step.Step
	for _, sb := range blocks {
		st, d := step.Decode(sb, dc)
		diags = append(diags, d...)
		if st != nil {
			out = append(out, st)
		}
	}
	return out, diags
}

func decodeCase(b *hcl.Block, dc *config.DecodeContext) ([]*Case, hcl.Diagnostics) {
	content, diags := b.Body.Content(caseSchema)
	steps, diags := decodeStepBlocks(content.Blocks, dc, diags)
	name := b.Labels[0]
	if len(steps) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Case without steps",
			Detail: fmt.Sprintf("Case %q needs at least one step block.", name), Subject: b.DefRange.Ptr()})
	}
	a, ok := content.Attributes["for_each"]
	if !ok {
		return []*Case{{Name: name, Steps: steps, DeclRange: b.DefRange}}, diags
	}
	v, d := dc.Value(a)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	if v.IsNull() || !v.IsWhollyKnown() || !v.CanIterateElements() {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid for_each",
			Detail:  "The attribute \"for_each\" must be a list, a set or an object known before the run, such as [\"alice\", \"bob\"] or var.accounts.",
			Subject: a.Expr.Range().Ptr()})
	}
	var cases []*Case
	secret := dc.IsSensitive(a.Expr)
	isList := v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		key := k
		if isList {
			// Lists are keyed by their elements when those are strings
			// (like Terraform's sets), by position otherwise.
			if e.Type() == cty.String {
				key = e
			}
		}
		keyStr, _ := ctyString(key)
		if secretIn(keyStr, dc.Config().SensitiveValues()) {
			// As Terraform does: a case's name is in every report.
			return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid for_each argument",
				Detail:  fmt.Sprintf("Sensitive values cannot be used as for_each keys: a key of case %q would hold the value of a sensitive variable, and a case's name is shown in every report. Key the cases by a name that is not secret, such as { alice = var.pw } (each.key is \"alice\", each.value the secret).", name),
				Subject: a.Expr.Range().Ptr()})
		}
		cases = append(cases, &Case{
			Name:       fmt.Sprintf("%s[%s]", name, keyStr),
			Each:       cty.ObjectVal(map[string]cty.Value{"key": key, "value": e}),
			HasEach:    true,
			EachSecret: secret,
			Steps:      steps,
			DeclRange:  b.DefRange,
		})
	}
	if len(cases) == 0 {
		// A case that runs no instance tests nothing, and an acceptance
		// would not show it missing.
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty for_each",
			Detail:  fmt.Sprintf("The for_each of case %q gives no element, so the case would not run at all. Give it at least one (or remove the case).", name),
			Subject: a.Expr.Range().Ptr()})
	}
	return cases, diags
}

// secretIn reports whether s holds any of the secrets.
func secretIn(s string, secrets []string) bool {
	for _, secret := range secrets {
		if secret != "" && strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

func ctyString(v cty.Value) (string, bool) {
	switch v.Type() {
	case cty.String:
		return v.AsString(), true
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), true
	}
	return v.GoString(), false
}

func checkUniqueSteps(s *Suite) hcl.Diagnostics {
	var diags hcl.Diagnostics
	check := func(steps []*step.Step) {
		seen := map[string]*step.Step{}
		for _, st := range steps {
			if prev, dup := seen[st.Name]; dup {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate step",
					Detail:  fmt.Sprintf("A step named %q is already defined at %s; step names must be unique within a case, because results are reported by name.", st.Name, config.Location(prev.DeclRange)),
					Subject: st.DeclRange.Ptr()})
				continue
			}
			seen[st.Name] = st
		}
	}
	check(s.Setup)
	check(s.Teardown)
	seenCase := map[string]bool{}
	for _, c := range s.Cases {
		if seenCase[c.Name] {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate case",
				Detail: fmt.Sprintf("Functional suite %q has two cases named %q.", s.Name, c.Name), Subject: c.DeclRange.Ptr()})
		}
		seenCase[c.Name] = true
		if !c.HasEach || c == firstOf(s.Cases, c.DeclRange) {
			check(c.Steps)
		}
	}
	return diags
}

// firstOf returns the first case declared at rng, so that the steps of a
// for_each case are checked once, not once per element.
func firstOf(cases []*Case, rng hcl.Range) *Case {
	for _, c := range cases {
		if c.DeclRange == rng {
			return c
		}
	}
	return nil
}

// maxParallelCases bounds the cases of a parallel suite that run at once.
const maxParallelCases = 64

// teardownGrace bounds teardown after an interrupt: teardown runs even then,
// but must not keep the user waiting long.
const teardownGrace = 15 * time.Second

// Run executes setup, the cases and teardown, recording one result per step
// and per case.
func (s *Suite) Run(ctx context.Context, env *runner.Env) runner.Outcome {
	base, err := newStepEnv(env)
	if err != nil {
		return runner.Outcome{Status: result.Errored, Message: err.Error()}
	}
	defer base.Close()

	status := result.Passed
	worse := func(st result.Status) {
		if st.Worse(status) {
			status = st
		}
	}
	var message string
	note := func(msg string) {
		if message == "" {
			message = msg
		}
	}

	// Cookies, like captures, flow from setup into every case and into
	// teardown, each starting from what setup was given.
	setupCaptures := map[string]cty.Value{}
	setupJar := step.NewCookieJar()
	setupOK := true
	if len(s.Setup) > 0 {
		st, msg := s.runSteps(ctx, env, base, setupJar, "setup", "setup", s.Setup, nil, setupCaptures)
		if st != result.Passed {
			setupOK = false
			worse(st)
			note("setup: " + msg)
		}
	}

	st, failures := s.runCases(ctx, env, base, setupJar, setupCaptures, setupOK)
	worse(st)
	for _, f := range failures {
		if f != "" {
			note(f)
		}
	}

	if len(s.Teardown) > 0 {
		if st, msg := s.teardown(ctx, env, base, setupJar, setupCaptures); st != result.Passed {
			worse(st)
			note("teardown: " + msg)
		}
	}
	return runner.Outcome{Status: status, Message: message}
}

// runCases runs the cases (in parallel when the suite says so), each from
// setup's captures and cookies, or records them skipped when setup failed.
// It returns the worst status of the cases that ran and the failures in
// the cases' declared order, also when they finished in another.
func (s *Suite) runCases(ctx context.Context, env *runner.Env, base *step.Env, setupJar *step.CookieJar, setupCaptures map[string]cty.Value, setupOK bool) (result.Status, []string) {
	status := result.Passed
	var mu sync.Mutex
	failures := make([]string, len(s.Cases))
	runCase := func(i int, c *Case) {
		start := time.Now()
		captures := copyMap(setupCaptures)
		var st result.Status
		var msg string
		if !setupOK {
			st, msg = result.Skipped, "not run: setup failed"
			s.skipSteps(env, c.Name, "test", c.Steps, msg)
		} else {
			st, msg = s.runSteps(ctx, env, base, setupJar.Fork(), c.Name, "test", c.Steps, c, captures)
		}
		env.Record(result.Result{
			Level: result.LevelCase, Case: c.Name, Order: c.order, Status: st, Message: msg,
			DurationMS: result.MS(time.Since(start)), Location: config.Location(c.DeclRange),
		})
		mu.Lock()
		defer mu.Unlock()
		if setupOK {
			if st.Worse(status) {
				status = st
			}
			if st != result.Passed {
				failures[i] = fmt.Sprintf("case %q: %s", c.Name, msg)
			}
		}
	}
	if s.Parallel {
		// At most maxParallelCases at a time: 100,000 for_each cases
		// started at once would open as many connections.
		var wg sync.WaitGroup
		slots := make(chan struct{}, maxParallelCases)
		for i, c := range s.Cases {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer func() { <-slots; wg.Done() }()
				runCase(i, c)
			}()
		}
		wg.Wait()
	} else {
		for i, c := range s.Cases {
			runCase(i, c)
		}
	}
	return status, failures
}

// teardown runs the teardown steps from setup's captures and cookies, with
// a grace period of its own when the run was interrupted.
func (s *Suite) teardown(ctx context.Context, env *runner.Env, base *step.Env, setupJar *step.CookieJar, setupCaptures map[string]cty.Value) (result.Status, string) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), teardownGrace)
		defer cancel()
	}
	return s.runSteps(ctx, env, base, setupJar.Fork(), "teardown", "teardown", s.Teardown, nil, copyMap(setupCaptures))
}

// runSteps runs steps in order with the cookies of jar, recording each;
// after a step that does not pass the rest are recorded as skipped. It
// returns the worst status and the first failure.
func (s *Suite) runSteps(ctx context.Context, env *runner.Env, base *step.Env, jar *step.CookieJar, caseName, phase string, steps []*step.Step, c *Case, captures map[string]cty.Value) (result.Status, string) {
	senv := *base
	senv.Jar = jar
	if c != nil && c.HasEach {
		senv.Vars = map[string]cty.Value{"each": c.Each}
		if c.EachSecret {
			senv.SecretVars = map[string][]string{"each": {"value"}}
		}
	}
	order := 0
	if c != nil {
		order = c.order
	}
	return step.RunSequence(ctx, &senv, steps, captures, func(st *step.Step, out step.Outcome) {
		env.Record(result.Result{
			Level: result.LevelStep, Case: caseName, Order: order, Step: st.Name, Phase: phase, Status: out.Status,
			DurationMS: result.MS(out.Duration), Message: out.Message, First: out.First, Location: config.Location(st.DeclRange),
			Checks: out.Checks, Exchange: out.Exchange, Attempts: out.Attempts,
		})
	})
}

func (s *Suite) skipSteps(env *runner.Env, caseName, phase string, steps []*step.Step, why string) {
	for _, st := range steps {
		env.Record(result.Result{
			Level: result.LevelStep, Case: caseName, Step: st.Name, Phase: phase,
			Status: result.Skipped, Message: why, Location: config.Location(st.DeclRange),
		})
	}
}

func copyMap(m map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
