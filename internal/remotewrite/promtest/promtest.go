// Package promtest starts a real Prometheus (Debian's prometheus binary,
// which .ci/services.sh installs) that accepts remote writes, for tests,
// and queries it.
package promtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/testdb"
)

// Start runs prometheus on a free loopback port with the remote-write
// receiver on, no scrape target and a temporary storage directory, and
// returns its base URL once it is ready. The process ends with the test.
func Start(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		testdb.Unavailable(t, "prometheus is not installed; run: bash .ci/services.sh")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global:\n  scrape_interval: 15s\n"), 0o644)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--web.enable-remote-write-receiver")
	logf, _ := os.Create(filepath.Join(dir, "prometheus.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Fatalf("prometheus at %s was not ready within 30 s:\n%s", base, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WriteURL is the remote-write endpoint of the Prometheus at base.
func WriteURL(base string) string { return base + "/api/v1/write" }

// Sample is one series of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Query runs an instant PromQL query at the present.
func Query(t testing.TB, base, query string) []Sample {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query) + "&time=" + strconv.FormatInt(time.Now().Unix()+1, 10))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Status != "success" {
		t.Fatalf("query %s: %v %s\n%s", query, err, out.Error, b)
	}
	var samples []Sample
	for _, r := range out.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("query %s: value %v: %v", query, r.Value, err)
		}
		samples = append(samples, Sample{Labels: r.Metric, Value: v})
	}
	return samples
}

// Eventually repeats Query until check accepts the answer or 10 s pass
// (remote-written samples become queryable a moment after the write).
func Eventually(t testing.TB, base, query string, check func([]Sample) error) []Sample {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := Query(t, base, query)
		err := check(got)
		if err == nil {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s: %v; got %v", query, err, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// String shows a sample for messages.
func (s Sample) String() string { return fmt.Sprintf("%v=%g", s.Labels, s.Value) }
