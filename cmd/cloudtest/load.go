package main

import (
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/evidence"
	"github.com/cloudtest/cloudtest/suites/functional"
	"github.com/cloudtest/cloudtest/suites/migration"
	"github.com/cloudtest/cloudtest/suites/performance"
	"github.com/cloudtest/cloudtest/suites/reliability"
	"github.com/cloudtest/cloudtest/suites/security"
)

// kinds lists every suite kind cloudtest knows. Adding a kind means adding
// its package here.
var kinds = []config.SuiteKind{
	functional.Kind,
	performance.Kind,
	reliability.Kind,
	security.Kind,
	migration.Kind,
}

// blocks lists the other top-level blocks: vendor evidence, requirements
// added by the user and waivers.
var blocks = []config.BlockKind{
	evidence.Block,
	deploy.RequirementBlock,
	deploy.WaiverBlock,
}

// load reads the suites at path and prints every diagnostic with its source
// snippet; ok is false when there were errors.
func load(path string, cf *configFlags, stderr io.Writer) (*config.Config, bool) {
	cfg, parser, diags := config.Load(path, config.Options{
		Vars: cf.vars, VarFiles: cf.varFiles, Environ: os.Environ(), Kinds: kinds, Blocks: blocks,
	})
	if len(diags) > 0 {
		printDiags(stderr, parser.Files(), diags, !cf.noColor && isTerminal(stderr))
	}
	if diags.HasErrors() {
		fmt.Fprintf(stderr, "cloudtest: %s in %s\n", countErrors(diags), path)
		return nil, false
	}
	if _, _, err := deploy.Requirements(cfg); err != nil {
		fmt.Fprintf(stderr, "cloudtest: %v\n", err)
		return nil, false
	}
	return cfg, true
}

func printDiags(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, color bool) {
	// Errors first, in file order, so the first thing a user reads is the first problem.
	sorted := slices.Clone(diags)
	slices.SortStableFunc(sorted, func(a, b *hcl.Diagnostic) int {
		if a.Severity != b.Severity {
			if a.Severity == hcl.DiagError {
				return -1
			}
			return 1
		}
		return 0
	})
	wr := hcl.NewDiagnosticTextWriter(w, files, 100, color)
	wr.WriteDiagnostics(sorted)
}

func countErrors(diags hcl.Diagnostics) string {
	n := 0
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			n++
		}
	}
	if n == 1 {
		return "1 error"
	}
	return fmt.Sprintf("%d errors", n)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func pathArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return "."
}
