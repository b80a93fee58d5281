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
	"sync/atomic"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// TestALoadOnLocalGeneratorsThroughTheCLI: `cloudtest run` starts three
// `cloudtest worker` processes (this test binary, as the CLI), hands them
// a sensitive variable through their standard input, and the report says
// how many generators ran, each one's rate and CPU, with the merged count.
func TestALoadOnLocalGeneratorsThroughTheCLI(t *testing.T) {
	var served, marked atomic.Int64
	const token = "s3cret-generator-token-42"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Header.Get("Authorization") == "Bearer "+token && r.Header.Get("X-Cloudtest-Run") != "" {
			marked.Add(1)
		}
	}))
	defer srv.Close()
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "load.hcl"), []byte(fmt.Sprintf(`variable "token" { sensitive = true }
target "t" { url = %q }
performance "shared" {
  target = target.t
  load {
    rate     = 60
    duration = "2s"
    workers  = 3
    runner   = "local"
  }
  journey "j" {
    step "get" {
      http {
        path    = "/"
        headers = { Authorization = "Bearer ${var.token}" }
      }
      expect { status = 200 }
    }
  }
}
`, srv.URL)), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, "--var", "token=" + token, suites}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if served.Load() != 120 || marked.Load() != 120 {
		t.Fatalf("the server saw %d requests, %d with the token and the run marker; want 120", served.Load(), marked.Load())
	}
	dir := onlyRunDir(t, out)
	js, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	var rep struct {
		Suites []struct {
			Data result.LoadSummary `json:"data"`
		} `json:"suites"`
	}
	if err := json.Unmarshal(js, &rep); err != nil || len(rep.Suites) != 1 {
		t.Fatalf("report.json: %v\n%s", err, js)
	}
	ls := rep.Suites[0].Data
	if ls.Runner != "local" || len(ls.Generators) != 3 || ls.Overall.Requests != 120 {
		t.Fatalf("report.json gives runner %q, %d generators, %d requests; want local, 3, 120", ls.Runner, len(ls.Generators), ls.Overall.Requests)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if !bytes.Contains(html, []byte("3 generators (runner local)")) {
		t.Errorf("report.html does not say how many generators ran")
	}
	for _, g := range ls.Generators {
		if g.Requests != 40 || g.CPUSeconds <= 0 || g.Failed != "" {
			t.Errorf("generator %+v: want 40 requests and its CPU time", g)
		}
		row := fmt.Sprintf("<td>%d</td><td>%s</td><td>40</td><td>0</td><td>20.00/s</td><td>20.00/s</td><td>%.2f</td>", g.Index, g.Location, g.CPUSeconds)
		if !bytes.Contains(html, []byte(row)) {
			t.Errorf("report.html has no row %s", row)
		}
	}
	// The secret went to the workers over a pipe: not on a command line,
	// not in any file of the run.
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(token)) {
				t.Errorf("%s holds the sensitive token", path)
			}
		}
		return nil
	})
}

func TestTheWorkerCommandIsHiddenAndTakesNoArguments(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run([]string{"--help"}, &stdout, &stderr)
	if strings.Contains(stdout.String(), "worker") {
		t.Errorf("help lists the worker command:\n%s", stdout.String())
	}
	if code := run([]string{"worker", "x"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "takes no arguments") {
		t.Errorf("worker x: exit %d, %s", code, stderr.String())
	}
}
