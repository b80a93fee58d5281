// Package runner selects and orders suites, starts their targets, runs them
// with a concurrency limit and per-suite timeouts under one context that
// Ctrl-C cancels, and appends every result to results.jsonl as it happens.
package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// Suite is what a suite kind's decoder returns: a decoded block that can run.
type Suite interface {
	config.Suite
	// Run executes the suite, recording step and case results through env,
	// and returns the suite's own outcome. It must return soon after ctx
	// is cancelled.
	Run(ctx context.Context, env *Env) Outcome
}

// Outcome is a suite's overall result.
type Outcome struct {
	Status  result.Status
	Message string
	Data    json.RawMessage
}

// Selection narrows the suites of a configuration; empty fields select all.
type Selection struct {
	Kinds      []string // --only
	Tags       []string // --tag (any of)
	Components []string // --component (any of)
	Names      []string // --suite
}

// Describe lists the selection as its flags ("--suite x"); empty when
// every suite is selected.
func (s Selection) Describe() []string { return s.describe() }

func (s Selection) describe() []string {
	var out []string
	add := func(flag string, vals []string) {
		for _, v := range vals {
			out = append(out, flag+" "+v)
		}
	}
	add("--only", s.Kinds)
	add("--tag", s.Tags)
	add("--component", s.Components)
	add("--suite", s.Names)
	return out
}

func (s Selection) matches(c *config.SuiteCommon) bool {
	anyOf := func(want []string, ok func(string) bool) bool {
		if len(want) == 0 {
			return true
		}
		for _, w := range want {
			if ok(w) {
				return true
			}
		}
		return false
	}
	return anyOf(s.Kinds, func(k string) bool { return c.Kind == k }) &&
		anyOf(s.Tags, c.HasTag) &&
		anyOf(s.Components, func(n string) bool { return slices.Contains(c.Components, n) }) &&
		anyOf(s.Names, func(n string) bool { return c.Name == n })
}

// Plan is the ordered list of suites a run executes.
type Plan struct {
	Config    *config.Config
	Selection Selection
	// Suites in the order they start: every suite after the suites it depends on.
	Suites []Suite
	// Targets the suites use, in declaration order.
	Targets []string
}

// NewPlan selects suites and orders them. A selected suite brings the suites
// it depends on, selected or not.
func NewPlan(cfg *config.Config, sel Selection) (*Plan, error) {
	byName, err := runnable(cfg)
	if err != nil {
		return nil, err
	}
	for _, n := range sel.Names {
		if _, ok := byName[n]; !ok {
			return nil, fmt.Errorf("--suite %s: there is no suite named %q", n, n)
		}
	}
	p := &Plan{Config: cfg, Selection: sel}
	state := map[string]int{} // 1 visiting, 2 placed
	var place func(s Suite, path []string) error
	place = func(s Suite, path []string) error {
		c := s.Common()
		switch state[c.Name] {
		case 2:
			return nil
		case 1:
			return fmt.Errorf("suites depend on each other in a circle: %s → %s (%s)", strings.Join(path, " → "), c.Name, config.Location(c.DeclRange))
		}
		state[c.Name] = 1
		for _, d := range c.DependsOn {
			if dep, ok := byName[d]; ok {
				if err := place(dep, append(path, c.Name)); err != nil {
					return err
				}
			}
		}
		state[c.Name] = 2
		p.Suites = append(p.Suites, s)
		return nil
	}
	for _, s := range cfg.Suites {
		if sel.matches(s.Common()) {
			if err := place(byName[s.Common().Name], nil); err != nil {
				return nil, err
			}
		}
	}
	used := map[string]bool{}
	for _, s := range p.Suites {
		for _, t := range s.Common().UsesTargets {
			used[t] = true
		}
		if t := s.Common().Target; t != "" {
			used[t] = true
		}
	}
	for _, t := range cfg.TargetOrder {
		if used[t] {
			p.Targets = append(p.Targets, t)
		}
	}
	return p, nil
}

// runnable maps the suites of cfg by name. A kind made with NewKind decodes
// only runnable suites, which the compiler checks; only a config.SuiteKind
// written by hand (a test's, to list or emit faults) can make a suite that
// loads but cannot run.
func runnable(cfg *config.Config) (map[string]Suite, error) {
	byName := make(map[string]Suite, len(cfg.Suites))
	for _, s := range cfg.Suites {
		rs, ok := s.(Suite)
		if !ok {
			return nil, fmt.Errorf("suite %q: its kind %s was not made with runner.NewKind, so it cannot run", s.Common().Name, s.Common().Kind)
		}
		byName[s.Common().Name] = rs
	}
	return byName, nil
}

// Planned describes the plan's suites for run.json and the report.
func (p *Plan) Planned() []result.PlannedSuite {
	out := make([]result.PlannedSuite, 0, len(p.Suites))
	for _, s := range p.Suites {
		c := s.Common()
		out = append(out, result.PlannedSuite{
			Name: c.Name, Kind: c.Kind, Component: c.Component, Components: c.Components,
			Target: c.Target, Tags: c.Tags, Location: config.Location(c.DeclRange),
		})
	}
	return out
}
