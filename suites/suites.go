// Package suites is the registry of suite kinds: each kind is a package
// below this one (suites/functional, suites/performance, …) that holds its
// block schema, its decoder and its runner, and makes its Kind with
// runner.NewKind so that every suite it decodes can run. Adding a kind is
// adding its package and one line to Kinds; the CLI's --only, its help and
// the checks of the docs take the list from here.
package suites

import (
	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/suites/functional"
	"github.com/cloudtest/cloudtest/suites/migration"
	"github.com/cloudtest/cloudtest/suites/performance"
	"github.com/cloudtest/cloudtest/suites/reliability"
	"github.com/cloudtest/cloudtest/suites/security"
)

// Kinds are the suite kinds cloudtest knows, in the order help text lists them.
var Kinds = []config.SuiteKind{
	functional.Kind,
	performance.Kind,
	reliability.Kind,
	security.Kind,
	migration.Kind,
}

// Names are the block types of Kinds, in the same order.
func Names() []string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = k.Type
	}
	return names
}
