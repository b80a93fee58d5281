package performance

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/remotewrite/promtest"
)

// TestLiveFiguresReachARealPrometheus runs a load that pushes to a real
// Prometheus and reads the series back: the counters end at the figures of
// the report, and rates, quantiles and in-flight were pushed every second.
func TestLiveFiguresReachARealPrometheus(t *testing.T) {
	prom := promtest.Start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	res, ls, dir := runLoad(t, srv.URL, fmt.Sprintf(`
  metrics_remote_write = %q
  load {
    rate     = 40
    duration = "3s"
  }
  journey "browse" {
    step "home" {
      http { path = "/" }
      expect { status = 200 }
    }
    step "broken" {
      http { path = "/fail" }
      expect { status = 200 }
    }
  }`, promtest.WriteURL(prom)))
	if ls.Overall.Requests < 100 {
		t.Fatalf("the load sent %d requests: %s", ls.Overall.Requests, res.Message)
	}
	sel := `{run_id="perf-test", suite="load", target="t"}`
	promtest.Eventually(t, prom, `sum(cloudtest_requests_total`+sel+`)`, func(s []promtest.Sample) error {
		if len(s) != 1 || int64(s[0].Value) != ls.Overall.Requests {
			return fmt.Errorf("want %d requests, the report's count", ls.Overall.Requests)
		}
		return nil
	})
	errs := promtest.Query(t, prom, `cloudtest_request_errors_total{run_id="perf-test", journey="browse", step="broken"}`)
	if len(errs) != 1 || int64(errs[0].Value) != ls.Overall.Errors || ls.Overall.Errors == 0 {
		t.Errorf("errors of step broken: %v, want the report's %d", errs, ls.Overall.Errors)
	}
	// One sample a second of the per-second rate, of each step.
	for _, step := range []string{"home", "broken"} {
		n := promtest.Query(t, prom, `count_over_time(cloudtest_request_rate{run_id="perf-test", step="`+step+`"}[5m])`)
		if len(n) != 1 || n[0].Value < 3 {
			t.Errorf("rate samples of step %s: %v, want at least 3 (one a second)", step, n)
		}
		rate := promtest.Query(t, prom, `max_over_time(cloudtest_request_rate{run_id="perf-test", step="`+step+`"}[5m])`)
		if len(rate) != 1 || rate[0].Value < 20 || rate[0].Value > 80 {
			t.Errorf("peak per-second rate of step %s: %v, want about 40", step, rate)
		}
	}
	q := promtest.Query(t, prom, `cloudtest_request_latency_seconds{run_id="perf-test", step="home"}`)
	quantiles := map[string]float64{}
	for _, s := range q {
		quantiles[s.Labels["quantile"]] = s.Value
	}
	if len(quantiles) != 4 || quantiles["0.99"] < quantiles["0.5"] || quantiles["0.5"] <= 0 || quantiles["0.99"] > 5 {
		t.Errorf("latency quantiles of step home: %v", quantiles)
	}
	j := promtest.Query(t, prom, `cloudtest_journeys_total{run_id="perf-test", journey="browse"}`)
	if len(j) != 1 || j[0].Value < 50 {
		t.Errorf("journeys: %v", j)
	}
	if f := promtest.Query(t, prom, `count_over_time(cloudtest_requests_in_flight`+sel+`[5m])`); len(f) != 1 || f[0].Value < 3 {
		t.Errorf("in-flight samples: %v", f)
	}
	// The pushes are a step of the load in results.jsonl.
	b, _ := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	if !strings.Contains(string(b), `"step":"metrics remote write","phase":"test","status":"passed"`) {
		t.Errorf("results.jsonl does not record the pushes:\n%s", b)
	}
}

func TestAFailingRemoteWriteIsAnErrorStepNotAFailedLoad(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no receiver here", 404) }))
	defer down.Close()
	res, _, dir := runLoad(t, srv.URL, fmt.Sprintf(`
  metrics_remote_write = %q
  load {
    rate     = 10
    duration = "1s"
  }`+simpleJourney, down.URL+"/api/v1/write"))
	if res.Status != "passed" {
		t.Fatalf("the load itself %s: %s", res.Status, res.Message)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	if !strings.Contains(string(b), `"step":"metrics remote write","phase":"test","status":"error"`) || !strings.Contains(string(b), "404") {
		t.Errorf("the failed pushes are not recorded as an error step:\n%s", b)
	}
}

func TestABadRemoteWriteURLIsDiagnosed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.hcl"), []byte(`target "t" { url = "http://127.0.0.1:1" }
performance "load" {
  target               = target.t
  metrics_remote_write = "127.0.0.1:9090/api/v1/write"
  load {
    rate     = 1
    duration = "1s"
  }`+simpleJourney+`
}
`), 0o644)
	_, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "metrics_remote_write") || !strings.Contains(diags.Error(), "p.hcl:4") {
		t.Fatalf("diagnostics: %v", diags)
	}
}
