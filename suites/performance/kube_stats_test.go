package performance

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/testkube"
)

// The CPU and memory of a Kubernetes target's pods during a load come from
// the kubelet's resource metrics, read through the API server.
func TestUtilizationOfAKubernetesTargetComesFromTheKubelet(t *testing.T) {
	c := testkube.Get(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 2)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.hcl"), []byte(fmt.Sprintf(`
target "bank" {
  kubernetes {
    namespace  = %q
    service    = "bank"
    kubeconfig = %q
  }
}
performance "busy" {
  target = target.bank
  load {
    rate     = 200
    duration = "4s"
  }
  journey "health" {
    step "get" {
      http { path = "/healthz" }
      expect { status = 200 }
    }
  }
}`, ns, c.Kubeconfig)), 0o644)
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	plan, _ := runner.NewPlan(cfg, runner.Selection{})
	sum, err := runner.Run(context.Background(), plan, runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	r, ls := suiteSummary(t, sum.Dir)
	u := ls.Utilization
	// Two demo bank pods of a static Go binary: a few MB each, well under
	// the 500 MB a wrong sum (the node's, another namespace's) would give.
	if r.Status != result.Passed || u == nil || u.Samples < 2 || u.CPUMean <= 0 || u.RSSMaxMB < 2 || u.RSSMaxMB > 500 ||
		u.Unmeasured != "" || !strings.Contains(u.Source, "kubelet") || !strings.Contains(u.Source, ns) {
		t.Fatalf("utilization %+v (suite %s: %s)", u, r.Status, r.Message)
	}
	t.Logf("pods' utilization: CPU mean %.1f%% max %.1f%%, memory max %.1f MB over %d samples", u.CPUMean, u.CPUMax, u.RSSMaxMB, u.Samples)
}
