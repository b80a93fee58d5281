package step

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
)

// An error_message may use the response and the captures; it is evaluated
// when the condition is false, a sensitive capture in it is redacted, and
// the check keeps the message as written for its name.
func TestErrorMessageUsesRunTimeValues(t *testing.T) {
	srv := api(t)
	outs := runAll(t, srv.URL, `
steps "s" {
  step "login" {
    http {
      method = "POST"
      path   = "/login"
      json   = { user = "alice", password = "wonderland" }
    }
    capture {
      token = sensitive(response.json.token)
      user  = response.json.user
    }
  }
  step "balance" {
    http {
      path    = "/account"
      headers = { Authorization = "Bearer ${capture.token}" }
    }
    assert {
      condition     = response.json.currency == "CNY"
      error_message = "${capture.user} (token ${capture.token}) is served in ${response.json.currency}, balance ${response.json.balance}"
    }
  }
}`)
	o := outs[1]
	if o.Status != result.Failed {
		t.Fatalf("status %s: %s", o.Status, o.Message)
	}
	want := "alice (token " + Redacted + ") is served in USD, balance 12.5"
	if !strings.Contains(o.Message, want) {
		t.Errorf("message lacks %q:\n%s", want, o.Message)
	}
	if strings.Contains(o.Message, "tok-123") {
		t.Errorf("the sensitive capture leaked:\n%s", o.Message)
	}
	if n := o.Checks[0].Name; n != `assert "${capture.user} (token ${capture.token}) is served in ${response.json.currency}, balance ${response.json.balance}"` {
		t.Errorf("check name %s", n)
	}
}

// An error_message that cannot be evaluated makes the check errored, with
// the reason, and still says the condition was false.
func TestErrorMessageThatFailsToEvaluate(t *testing.T) {
	srv := api(t)
	outs := runAll(t, srv.URL, `
steps "s" {
  step "login" {
    http {
      method = "POST"
      path   = "/login"
      json   = { user = "alice", password = "nope" }
    }
    assert {
      condition     = response.status == 200
      error_message = "refused: ${response.json.reason}"
    }
  }
}`)
	o := outs[0]
	if o.Status != result.Errored || !strings.Contains(o.Message, "the condition is false, and its error_message could not be evaluated") ||
		!strings.Contains(o.Message, `"reason"`) {
		t.Fatalf("status %s:\n%s", o.Status, o.Message)
	}
}

// A step without a request compares the captures of two systems.
func TestAssertOnlyStepComparesTwoSystems(t *testing.T) {
	system := func(balance string) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"account":"CN-1","balance":%s}`, balance)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	old, same, differs := system("100.50"), system("100.5"), system("99")
	for _, tc := range []struct {
		cloud  string
		status result.Status
	}{{same.URL, result.Passed}, {differs.URL, result.Failed}} {
		outs := runAll(t, old.URL, fmt.Sprintf(`
steps "s" {
  step "old" {
    http { path = "/balance" }
    capture { old = response.json.balance }
  }
  step "cloud" {
    http { url = "%s/balance" }
    capture { cloud = response.json.balance }
  }
  step "compare" {
    assert {
      condition     = capture.old == capture.cloud
      error_message = "the balance moved from ${capture.old} to ${capture.cloud}"
    }
    capture { delta = capture.cloud - capture.old }
  }
}`, tc.cloud))
		o := outs[2]
		if o.Status != tc.status {
			t.Fatalf("compare with %s: status %s, want %s: %s", tc.cloud, o.Status, tc.status, o.Message)
		}
		if o.Exchange != nil || o.Code != 0 {
			t.Errorf("an assert-only step reported a request: %+v, code %d", o.Exchange, o.Code)
		}
		if tc.status == result.Failed {
			if !strings.Contains(o.Message, "the balance moved from 100.5 to 99") {
				t.Errorf("message:\n%s", o.Message)
			}
		} else if d := o.Captures["delta"]; d.AsBigFloat().Sign() != 0 {
			t.Errorf("delta = %s", d.AsBigFloat())
		}
	}
}

// A step without a request has no response to refer to, and no expect.
func TestAssertOnlyStepRefusesResponseAndExpect(t *testing.T) {
	_, diags := load(t, `
steps "s" {
  step "a" {
    assert {
      condition     = response.status == 200
      error_message = "x"
    }
  }
  step "b" {
    expect { status = 200 }
    assert {
      condition     = true
      error_message = "x"
    }
  }
}`)
	var all []string
	for _, d := range diags {
		all = append(all, d.Summary+": "+d.Detail)
	}
	got := strings.Join(all, "\n")
	for _, w := range []string{`"response" is not known here`, `Step "b" has no http, sql or tcp block`, "expect and eventually need a request"} {
		if !strings.Contains(got, w) {
			t.Errorf("diagnostics lack %q:\n%s", w, got)
		}
	}
}

// Durations are printed in ms under a second and in s above, never in ns.
func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		420 * time.Microsecond:  "0.42ms",
		3 * time.Millisecond:    "3ms",
		12 * time.Millisecond:   "12ms",
		606402776:               "606ms",
		1001497791:              "1.001s",
		90 * time.Second:        "90s",
		-250 * time.Millisecond: "-250ms",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", int64(d), got, want)
		}
	}
}

// A duration too short for two decimals of a millisecond is shown in
// microseconds, not as 0ms (max_duration = "1ns" read "want at most 0ms").
func TestFormatDurationBelowTenMicroseconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Nanosecond:        "0.001µs",
		1500 * time.Nanosecond: "1.5µs",
		10 * time.Microsecond:  "0.01ms",
		0:                      "0ms",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", int64(d), got, want)
		}
	}
}
