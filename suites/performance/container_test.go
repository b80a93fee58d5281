package performance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/client"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/target"
	"github.com/cloudtest/cloudtest/internal/testdb"
)

func TestUtilizationOfAContainerTarget(t *testing.T) {
	ctx := context.Background()
	cli, err := target.DockerClient(ctx)
	if err == nil {
		defer cli.Close()
		_, err = cli.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		testdb.Unavailable(t, fmt.Sprintf("no Docker engine: %v", err))
	}
	target.ImagePrefix = fmt.Sprintf("cloudtest-test-performance-%d", os.Getpid())
	t.Cleanup(func() {
		if err := target.RemoveImages(context.Background(), target.ImagePrefix); err != nil {
			t.Error(err)
		}
	})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.hcl"), []byte(`
target "bank" {
  container { embedded = "demobank" }
}
performance "busy" {
  target = target.bank
  load {
    rate     = 200
    duration = "3s"
  }
  journey "health" {
    step "get" {
      http { path = "/healthz" }
      expect { status = 200 }
    }
  }
}`), 0o644)
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	plan, _ := runner.NewPlan(cfg, runner.Selection{})
	sum, err := runner.Run(ctx, plan, runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(sum.Dir, "results.jsonl"))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r result.Result
		json.Unmarshal([]byte(line), &r)
		if r.Level != result.LevelSuite {
			continue
		}
		var ls result.LoadSummary
		json.Unmarshal(r.Data, &ls)
		u := ls.Utilization
		if r.Status != result.Passed || u == nil || u.Samples < 2 || u.CPUMean <= 0 || u.RSSMaxMB < 1 || u.Unmeasured != "" ||
			!strings.Contains(u.Source, "Docker stats") {
			t.Fatalf("utilization %+v (suite %s: %s)", u, r.Status, r.Message)
		}
		t.Logf("container utilization: CPU mean %.1f%% max %.1f%%, memory max %.1f MB over %d samples", u.CPUMean, u.CPUMax, u.RSSMaxMB, u.Samples)
		return
	}
	t.Fatal("no suite result")
}
