package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/suites"
	"github.com/cloudtest/cloudtest/suites/performance"
)

// cmdWorker is the hidden `cloudtest worker`: one generator of a
// performance suite shared among workers (runner = "local"). The
// coordinating `cloudtest run` starts it and talks to it over its standard
// input and output; it is not meant to be typed.
func cmdWorker(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "cloudtest worker takes no arguments: `cloudtest run` starts it for a load with workers = N")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := performance.ServeWorker(ctx, os.Stdin, os.Stdout, func(h performance.Handoff) (*config.Config, error) {
		cfg, parser, diags := config.Load(h.Source, config.Options{
			Vars: h.Vars, VarFiles: h.VarFiles, Environ: os.Environ(), Kinds: suites.Kinds, Blocks: blocks,
		})
		if diags.HasErrors() {
			var b strings.Builder
			printDiags(&b, parser.Files(), diags, false)
			return nil, errors.New(strings.TrimSpace(b.String()))
		}
		return cfg, nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest worker: %v\n", err)
		return exitIncomplete
	}
	return exitOK
}
