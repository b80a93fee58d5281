package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestALoadWhoseRequestsAllFailRejectsTheRun: before, a performance suite
// without thresholds against a target answering 500 passed and the run was
// ACCEPTED with exit 0. The default limit rejects it, and the terminal, the
// HTML report and report.json say which limit and where it came from.
func TestALoadWhoseRequestsAllFailRejectsTheRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "load.hcl"), []byte(fmt.Sprintf(`target "t" { url = %q }
performance "all-500" {
  target = target.t
  load {
    rate     = 50
    duration = "500ms"
  }
  journey "j" {
    step "get" {
      http { path = "/" }
      expect { status = 200 }
    }
  }
}
`, srv.URL)), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, suites}, &stdout, &stderr)
	if code != exitRejected || !strings.Contains(stdout.String(), "Verdict: REJECTED") {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitRejected, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String()+stderr.String(), "overall success: measured 0.0000, limit ≥ 0.99 (default)") {
		t.Errorf("the terminal does not name the default limit broken:\n%s\n%s", stdout.String(), stderr.String())
	}
	dir := onlyRunDir(t, out)
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !bytes.Contains(html, []byte("<th>Set by</th>")) || !bytes.Contains(html, []byte("<td>default</td><td>0.0000</td>")) {
		t.Errorf("report.html does not show the default limit in force")
	}
	js, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	var compact bytes.Buffer
	json.Compact(&compact, js)
	if !bytes.Contains(compact.Bytes(), []byte(`"metric":"success","limit":"≥ 0.99","measured":"0.0000","passed":false,"source":"default"`)) {
		t.Errorf("report.json does not give the limit's source:\n%s", js)
	}
}
