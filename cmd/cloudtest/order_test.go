package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Data-driven cases run in parallel finish in another order than they were
// declared; every report lists them as declared, and the suite's message
// names the first failure in that order.
func TestParallelCasesAreReportedInTheirForEachOrder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/sleep/"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
		if ms%200 == 0 {
			w.WriteHeader(500) // the 400 and 200 ms cases fail
		}
	}))
	defer srv.Close()
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
functional "order" {
  target   = target.t
  parallel = true
  case "wait" {
    for_each = ["400", "300", "200", "100", "10"]
    step "get" {
      http { path = "/sleep/${each.value}" }
      expect { status = 200 }
    }
  }
}
`})
	want := []string{"wait[400]", "wait[300]", "wait[200]", "wait[100]", "wait[10]"}
	// The run itself finished them last to first.
	results, _ := os.ReadFile(filepath.Join(r.dir, "results.jsonl"))
	if strings.Index(string(results), `"case":"wait[10]"`) > strings.Index(string(results), `"case":"wait[400]"`) {
		t.Fatalf("the cases finished in their declared order, so this test shows nothing:\n%s", results)
	}
	var rep struct {
		Suites []struct {
			Message string
			Cases   []struct{ Name string }
		}
	}
	b, _ := os.ReadFile(filepath.Join(r.dir, "report.json"))
	if err := json.Unmarshal(b, &rep); err != nil || len(rep.Suites) != 1 {
		t.Fatalf("report.json: %v", err)
	}
	var got []string
	for _, c := range rep.Suites[0].Cases {
		got = append(got, c.Name)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("report.json lists the cases %v, want %v", got, want)
	}
	if !strings.HasPrefix(rep.Suites[0].Message, `case "wait[400]"`) {
		t.Errorf("the suite's message starts with another case than the first declared failure: %s", rep.Suites[0].Message)
	}
	for _, f := range []string{"junit.xml", "summary.md", "report.html"} {
		text, _ := os.ReadFile(filepath.Join(r.dir, f))
		last := -1
		for _, name := range want {
			i := strings.Index(string(text), name)
			if i < last {
				t.Errorf("%s lists %s before the case declared before it", f, name)
			}
			last = i
		}
	}
}

// A parallel suite runs its cases at the same time, but no more than 64:
// 200 cases against a server that holds each request 50 ms.
func TestParallelCasesRunAtMost64AtATime(t *testing.T) {
	var mu sync.Mutex
	inFlight, peak := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		peak = max(peak, inFlight)
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer srv.Close()
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
functional "many" {
  target   = target.t
  parallel = true
  case "c" {
    for_each = range(200)
    step "get" {
      http { path = "/x/${each.value}" }
      expect { status = 200 }
    }
  }
}
`})
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.terminal)
	}
	mu.Lock()
	defer mu.Unlock()
	if peak > 64 || peak < 32 {
		t.Fatalf("at most %d requests were in flight at once, want between 32 and 64", peak)
	}
}

// A status-code matrix (for_each over codes) is shown in report.html as a
// table of its cases, one row a case in declared order, with the failure
// of a case that did not pass in full.
func TestAStatusCodeMatrixIsATableOfCases(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		if code == 404 {
			code = 410 // the matrix's 404 row fails
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
functional "codes" {
  target = target.t
  case "status" {
    for_each = { ok = 200, created = 201, missing = 404, broken = 500 }
    step "get" {
      http { path = "/status/${each.value}" }
      expect { status = each.value }
    }
  }
}
`})
	html, _ := os.ReadFile(filepath.Join(r.dir, "report.html"))
	_, table, ok := strings.Cut(string(html), `<table class="cases">`)
	table, _, _ = strings.Cut(table, "</table>")
	if !ok {
		t.Fatalf("report.html has no table of cases")
	}
	rows := strings.Count(table, "<tr><td>")
	// for_each over an object goes in key order.
	order := []string{"status[broken]", "status[created]", "status[missing]", "status[ok]"}
	last := -1
	for _, name := range order {
		i := strings.Index(table, "<td>"+name+"</td>")
		if i < last {
			t.Errorf("the table lists %s out of order", name)
		}
		last = i
	}
	if rows != 4 || !strings.Contains(table, "got status 410, want 404") || strings.Count(table, `class="st failed"`) != 1 {
		t.Errorf("the table has %d rows, want 4 with one failed in full:\n%s", rows, table)
	}
}
