package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// messagesSuite fails in every way a functional step can, against a real
// server: each expectation, an assert whose error_message reads the
// response and a capture, a step that only asserts, and an eventually.
const messagesSuite = `
functional "messages" {
  target = target.t
  step "balance" {
    http { path = "/balance" }
    expect {
      status        = 201
      headers       = { "Content-Type" = "text/plain" }
      headers_match = { "X-Region" = "^cn-" }
      json          = { currency = "CNY", balance = 13 }
      json_exists   = ["owner"]
      body_contains = "owner"
      body_match    = "^\\["
      max_duration  = "50ms"
    }
    assert {
      condition     = response.json.balance > 20
      error_message = "balance ${response.json.balance} ${response.json.currency} is below 20"
    }
  }
}

functional "compare" {
  target = target.t
  step "old" {
    http { path = "/balance" }
    capture { old = response.json.balance }
  }
  step "cloud" {
    http { path = "/cloud-balance" }
    capture { cloud = response.json.balance }
  }
  step "same" {
    assert {
      condition     = capture.old == capture.cloud
      error_message = "the balance moved from ${capture.old} to ${capture.cloud}"
    }
  }
}

functional "poll" {
  target = target.t
  step "ready" {
    http { path = "/unavailable" }
    expect { status = 200 }
    eventually {
      within = "400ms"
      every  = "100ms"
    }
  }
}
`

// messagesTemplate is a step_template in a file of its own whose checks
// fail at run time: the message names the check's line in the template
// and the step that uses it, in main.hcl; the using step's own assert is
// named at its line alone.
const messagesTemplate = `step_template "balance_in" {
  param "currency" {}
  http { path = "/balance" }
  expect { status = 200 }
  assert {
    condition     = response.json.currency == param.currency
    error_message = "the balance is in ${response.json.currency}, not ${param.currency}"
  }
}
`

const messagesReuse = `
functional "reuse" {
  target = target.t
  step "in euros" {
    use  = step_template.balance_in
    with = { currency = "EUR" }
    assert {
      condition     = response.status == 201
      error_message = "the step's own check"
    }
  }
}
`

func messagesServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/balance", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(120 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Region", "eu-west")
		fmt.Fprint(w, `{"currency":"USD","balance":12.5}`)
	})
	mux.HandleFunc("/cloud-balance", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"currency":"USD","balance":12.25}`)
	})
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// normalize takes what changes from run to run out of a message: the
// suite's directory, the measured durations and the attempt counts.
func normalize(s, dir string) string {
	s = strings.ReplaceAll(s, dir+string(filepath.Separator), "")
	s = regexp.MustCompile(`took \d+ms`).ReplaceAllString(s, "took <N>ms")
	s = regexp.MustCompile(`gave up after \d+ attempts in \d+ms`).ReplaceAllString(s, "gave up after <N> attempts in <N>ms")
	s = regexp.MustCompile(`(?m)^ *\d+\.\ds  `).ReplaceAllString(s, "<T>  ")
	s = regexp.MustCompile(` in \d+ms:`).ReplaceAllString(s, " in <N>ms:")
	return s
}

// TestFailureMessagesArePlainWords runs the suite and compares every
// failed step's message (results.jsonl) and what the terminal prints
// with golden files: the messages carry no Go types or pointers, no
// nanoseconds, say each thing once, list every failed check of a step,
// and the terminal prints the first failure whole, once: on the step's
// line, the suite's end line and the verdict naming the step without its
// text (the HTML verdict and cloudtest report print it whole).
func TestFailureMessagesArePlainWords(t *testing.T) {
	srv := messagesServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + messagesSuite + messagesReuse, "steps.hcl": messagesTemplate}, "--no-color")
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	b, err := os.ReadFile(filepath.Join(r.dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var msgs strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec struct{ Level, Suite, Step, Status, Message string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Level == "step" && (rec.Status == "failed" || rec.Status == "error") {
			fmt.Fprintf(&msgs, "== %s / %s: %s\n%s\n\n", rec.Suite, rec.Step, rec.Status, rec.Message)
		}
	}
	// The HTML verdict banner has the first failure of each step whole.
	html, err := os.ReadFile(filepath.Join(r.dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	banner := string(html)
	if i := strings.Index(banner, `id="verdict"`); i >= 0 {
		banner = banner[i:]
	}
	if i := strings.Index(banner, "</ul>"); i >= 0 {
		banner = banner[:i]
	}
	for _, w := range []string{"got status 200, want 201", "(and 9 more failed checks", "the balance moved from 12.5 to 12.25", "got status 503, want 200"} {
		if !strings.Contains(banner, w) {
			t.Errorf("the verdict banner lacks %q:\n%s", w, banner)
		}
	}
	// The suite directory is where main.hcl is: the message names it.
	dir := regexp.MustCompile(`(/[^\s:]+)/main\.hcl`).FindStringSubmatch(msgs.String())
	if dir == nil {
		t.Fatalf("no location in the messages:\n%s", msgs.String())
	}
	term := r.terminal
	if i := strings.Index(term, "Report: "); i >= 0 {
		term = term[:i] // the report's path changes every run
	}
	// Each failure is printed in full once: on its step's line; the
	// suite's end line and the verdict's recap point at it.
	full := []string{"got status 200, want 201", "(and 9 more failed checks", "Error: the balance moved from 12.5 to 12.25", "with capture.cloud as 12.25", "got status 503, want 200",
		"Error: the balance is in USD, not EUR"}
	for _, w := range full {
		if n := strings.Count(term, w); n != 1 {
			t.Errorf("the terminal prints %q %d times, want once:\n%s", w, n, term)
		}
	}
	// `cloudtest report DIR` shows no run above its verdict: there the
	// reasons are in full.
	var out, errOut strings.Builder
	run([]string{"report", r.dir}, &out, &errOut)
	for _, w := range full {
		if !strings.Contains(out.String(), w) {
			t.Errorf("cloudtest report's verdict lacks %q:\n%s%s", w, out.String(), errOut.String())
		}
	}
	for name, got := range map[string]string{"steps": normalize(msgs.String(), dir[1]), "terminal": normalize(term, dir[1])} {
		for _, bad := range []string{"<int>", "<string>", "<float64>", "time.Duration", "errors.errorString", "0xc", " …"} {
			if strings.Contains(got, bad) {
				t.Errorf("%s: %q in:\n%s", name, bad, got)
			}
		}
		if regexp.MustCompile(`\d{7,}`).MatchString(got) {
			t.Errorf("%s: a number of nanoseconds in:\n%s", name, got)
		}
		golden := filepath.Join("testdata", "messages", name+".golden")
		if *update {
			if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./cmd/cloudtest -run TestFailureMessages -update)", err)
		}
		if got != string(want) {
			t.Errorf("%s differs from %s\n--- got\n%s\n--- want\n%s", name, golden, got, want)
		}
	}
}
