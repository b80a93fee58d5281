package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/suites"
)

// check refuses a selection flag whose value can match no suite of cfg (an
// unknown kind or one no suite is of, a tag no suite has, a component no
// suite tests): a typo
// would otherwise select nothing, or less than meant, and the run would end
// INCOMPLETE or be judged on the wrong suites instead of saying what is
// wrong. --suite names are checked by runner.NewPlan.
func (s *selectionFlags) check(cfg *config.Config) error {
	known := suites.Names()
	var used, tags, comps []string
	for _, st := range cfg.Suites {
		c := st.Common()
		used = append(used, c.Kind)
		tags = append(tags, c.Tags...)
		comps = append(comps, c.Components...)
		if c.Component != "" {
			comps = append(comps, c.Component)
		}
	}
	var problems []string
	for _, k := range s.only {
		switch {
		case !slices.Contains(known, k):
			problems = append(problems, fmt.Sprintf("--only %s: there is no suite kind %q; the kinds are %s.%s", k, k, strings.Join(known, ", "), config.Suggest(k, known)))
		case !slices.Contains(used, k):
			problems = append(problems, fmt.Sprintf("--only %s: no suite is of the kind %q%s.", k, k, among("kinds", used)))
		}
	}
	for _, t := range s.tags {
		if !slices.Contains(tags, t) {
			problems = append(problems, fmt.Sprintf("--tag %s: no suite has the tag %q%s.%s", t, t, among("tags", tags), config.Suggest(t, tags)))
		}
	}
	for _, c := range s.components {
		if !slices.Contains(comps, c) {
			problems = append(problems, fmt.Sprintf("--component %s: no suite tests the component %q%s.%s", c, c, among("components", comps), config.Suggest(c, comps)))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}

// among lists the names in use, once each, for a message.
func among(what string, names []string) string {
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	if len(names) == 0 {
		return " (no suite has " + what + ")"
	}
	return " (the " + what + " in use: " + strings.Join(names, ", ") + ")"
}

// emptySelection refuses a selection whose flags each match suites but
// together match none (--only migration --tag smoke when no migration
// suite has the tag smoke): like a flag that matches nothing, it is a
// usage error, not a run that ends INCOMPLETE.
func emptySelection(plan *runner.Plan, sel runner.Selection) error {
	flags := sel.Describe()
	if len(plan.Suites) > 0 || len(flags) == 0 {
		return nil
	}
	return fmt.Errorf("no suite matches all of %s: each flag matches some suite, but a suite is selected only when it matches every kind of flag given (--only, --tag, --component, --suite); `cloudtest plan` with one flag at a time shows what each selects", strings.Join(flags, " "))
}
