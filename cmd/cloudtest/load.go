package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"golang.org/x/term"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/evidence"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/suites"
)

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
		Vars: cf.vars, VarFiles: cf.varFiles, Environ: os.Environ(), Kinds: suites.Kinds, Blocks: blocks,
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
	// Source lines, summaries and details are made printable before hcl
	// writes them (in place, so that every byte offset still holds): with
	// colour on, hcl's own escapes must pass the printable writer, so a raw
	// one in the source must not reach it.
	for i, d := range sorted {
		c := *d
		c.Summary, c.Detail = result.Printable(c.Summary), result.Printable(c.Detail)
		sorted[i] = &c
	}
	wr := hcl.NewDiagnosticTextWriter(newPrintable(w, stderrSequences), printableFiles(files), 100, color)
	wr.WriteDiagnostics(sorted)
}

// printableFiles are the files with every byte of a control character
// (other than newline, tab and the CR of a CRLF), of a bidirectional
// override and of what is not UTF-8 replaced by '?', byte for byte, so
// that the ranges of the diagnostics still point at the same bytes.
func printableFiles(files map[string]*hcl.File) map[string]*hcl.File {
	out := make(map[string]*hcl.File, len(files))
	for name, f := range files {
		if f == nil || !result.NeedsEscape(string(f.Bytes)) {
			out[name] = f
			continue
		}
		c := *f
		c.Bytes = bytes.Clone(f.Bytes)
		for i := 0; i < len(c.Bytes); {
			_, n := utf8.DecodeRune(c.Bytes[i:])
			crlf := c.Bytes[i] == '\r' && i+1 < len(c.Bytes) && c.Bytes[i+1] == '\n'
			if !crlf && result.NeedsEscape(string(c.Bytes[i:i+n])) {
				for k := i; k < i+n; k++ {
					c.Bytes[k] = '?'
				}
			}
			i += n
		}
		out[name] = &c
	}
	return out
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
	f, ok := fileOf(w)
	return ok && term.IsTerminal(int(f.Fd()))
}

func pathArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return "."
}
