package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/suites"
)

// Exit codes, as the design fixes them.
const (
	exitOK          = 0
	exitRejected    = 1
	exitUsage       = 2
	exitIncomplete  = 3
	exitInterrupted = 130
)

// listFlag collects a repeatable flag; "a,b" counts as two values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

// varFlag collects -var NAME=VALUE as given (a value may contain commas).
type varFlag []string

func (l *varFlag) String() string     { return strings.Join(*l, " ") }
func (l *varFlag) Set(v string) error { *l = append(*l, v); return nil }

func newFlags(name, args, about, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cloudtest %s [flags] %s\n\n%s\n\nExample:\n  %s\n\nFlags:\n", name, args, about, example)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags placed before or after the positional arguments; done
// is true when the command should end with code (help or a bad flag).
func parse(fs *flag.FlagSet, args []string) (code int, done bool) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return exitOK, true
			}
			return exitUsage, true
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	fs.Parse(append([]string{"--"}, positional...))
	return 0, false
}

// configFlags are the flags of every command that loads suites.
type configFlags struct {
	vars     varFlag
	varFiles varFlag
	noColor  bool
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.Var(&c.vars, "var", "set a variable: -var NAME=VALUE (repeatable)")
	fs.Var(&c.varFiles, "var-file", "read variables from an HCL file of NAME = VALUE lines (repeatable)")
	fs.BoolVar(&c.noColor, "no-color", os.Getenv("NO_COLOR") != "", "print without colours")
}

// selectionFlags choose suites.
type selectionFlags struct {
	only, tags, components, suites listFlag
}

func (s *selectionFlags) register(fs *flag.FlagSet) {
	fs.Var(&s.only, "only", "run only suites of these kinds: "+strings.Join(suites.Names(), ", ")+" (repeatable)")
	fs.Var(&s.tags, "tag", "run only suites with one of these tags (repeatable)")
	fs.Var(&s.components, "component", "run only suites of these components (repeatable)")
	fs.Var(&s.suites, "suite", "run only the suites with these names, and what they depend on (repeatable)")
}

func (s *selectionFlags) selection() runner.Selection {
	return runner.Selection{Kinds: s.only, Tags: s.tags, Components: s.components, Names: s.suites}
}
