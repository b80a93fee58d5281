package config_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/evidence"
	"github.com/cloudtest/cloudtest/suites/functional"
	"github.com/cloudtest/cloudtest/suites/performance"
	"github.com/cloudtest/cloudtest/suites/security"
)

// The kinds and blocks cloudtest loads (the list in cmd/cloudtest), less
// reliability: its fault engines bring in Kubernetes' packages, which
// doubles what the fuzzer must build instrumented (1,045 packages instead
// of 460, many minutes on a CI machine); its blocks load as unknown ones.
var fuzzOptions = config.Options{
	Kinds:  []config.SuiteKind{functional.Kind, performance.Kind, security.Kind},
	Blocks: []config.BlockKind{evidence.Block, deploy.RequirementBlock, deploy.WaiverBlock},
}

// FuzzLoad loads one file of arbitrary bytes with every suite kind: the
// loader must answer with diagnostics, never panic, and never take more
// than a few seconds. It is seeded with every example and every file of
// the validate golden tests. Crashers found are kept in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"../../examples/*/*.hcl", "../../examples/*/*/*.hcl", "../../cmd/cloudtest/testdata/bad/*"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, m...)
	}
	if len(seeds) < 30 {
		f.Fatalf("found %d seed files; the examples or the golden files moved", len(seeds))
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), src, 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan any, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- fmt.Sprintf("%v\n%s", p, debug.Stack())
				}
				close(done)
			}()
			config.Load(dir, fuzzOptions)
		}()
		select {
		case p, panicked := <-done:
			if panicked {
				t.Fatalf("Load panicked: %v", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Load took longer than 10s")
		}
	})
}
