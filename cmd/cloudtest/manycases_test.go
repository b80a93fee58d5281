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

// A for_each over thousands of cases keeps the report usable: every failed
// case in full, the first passed ones in full, the rest counted. Before, a
// 100,000-case run wrote a 108 MB report.html and took 108 s to build it
// (the cases of a suite were found by a linear search).
func TestAForEachOverThousandsOfCasesKeepsTheReportUsable(t *testing.T) {
	const n = 3000
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/1234") || strings.HasSuffix(r.URL.Path, "/2999") {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "many.hcl"), []byte(fmt.Sprintf(`
target "api" { url = %q }
functional "many" {
  target = target.api
  case "item" {
    for_each = flatten([for i in range(%d) : [for j in range(1000) : tostring(i * 1000 + j)]])
    step "get" {
      http { path = "/items/${each.value}" }
      expect { status = 200 }
    }
  }
}
`, srv.URL, n/1000)), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--out", out, suites}, &stdout, &stderr); code != exitRejected {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyRunDir(t, out)
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	page := string(html)
	for _, failed := range []string{"item[1234]", "item[2999]"} {
		if !strings.Contains(page, "case “"+failed+"”") || !strings.Contains(page, "/items/"+strings.Trim(failed, "item[]")) {
			t.Errorf("report.html does not show the failed case %s with its request", failed)
		}
	}
	if got := strings.Count(page, "<summary><span class=\"st passed\">passed</span> case “"); got != 100 {
		t.Errorf("report.html shows %d passed cases one by one, want the first 100", got)
	}
	if want := fmt.Sprintf("… and %d more passed cases", n-2-100); !strings.Contains(page, want) {
		t.Errorf("report.html does not say %q", want)
	}
	if len(html) > 1<<20 {
		t.Errorf("report.html is %d bytes for %d cases", len(html), n)
	}
	var rep struct {
		Suites []struct {
			Cases []struct {
				Name   string `json:"name"`
				Status string `json:"status"`
			} `json:"cases"`
			SummarisedCases int `json:"summarised_cases"`
		} `json:"suites"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Suites) != 1 || len(rep.Suites[0].Cases) != n || rep.Suites[0].SummarisedCases != n-2-100 {
		t.Fatalf("report.json must list all %d cases and count %d summarised", n, n-2-100)
	}
	junit, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if got := strings.Count(string(junit), "<testcase "); got != n {
		t.Errorf("junit.xml has %d test cases, want %d", got, n)
	}
	if got := strings.Count(string(junit), "<failure "); got != 2 {
		t.Errorf("junit.xml has %d failures, want 2", got)
	}
}
