package performance

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/demobank"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/testdb"
)

// startPrometheus runs Debian's prometheus on a free loopback port, scraping
// target every second as job "bank".
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		testdb.Unavailable(t, "prometheus is not installed; run: bash .ci/services.sh")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: bank\n    static_configs:\n      - targets: [%q]\n", target)), 0o644)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := "http://" + addr
	// Prometheus hands new targets to its scrapers about five seconds after
	// it starts; wait until the bank has been scraped once.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/api/v1/query?query=up%7Bjob%3D%22bank%22%7D")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(b), `"value":[`) {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus at %s did not scrape the bank within 30 s", url)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestUtilizationFromARealPrometheus(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bank, err := demobank.Start(ctx, "127.0.0.1:0", demobank.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bank.Close()
	prom := startPrometheus(t, strings.TrimPrefix(bank.URL, "http://"))
	res, ls, _ := runLoad(t, bank.URL, fmt.Sprintf(`
  utilization {
    prometheus = %q
    cpu        = "rate(process_cpu_seconds_total{job=\"bank\"}[3s]) * 100"
    memory     = "process_resident_memory_bytes{job=\"bank\"}"
  }
  load {
    rate     = 50
    duration = "4s"
  }
  journey "health" {
    step "get" {
      http { path = "/healthz" }
      expect { status = 200 }
    }
  }`, prom))
	u := ls.Utilization
	if res.Status != result.Passed || u == nil || u.Samples < 2 || u.RSSMaxMB < 1 || !strings.HasPrefix(u.Source, "Prometheus at ") {
		t.Fatalf("%s %q; utilization %+v", res.Status, res.Message, u)
	}
}
