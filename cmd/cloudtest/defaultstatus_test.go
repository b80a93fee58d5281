package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A step that says nothing of the status expects a success (200–399), as a
// step under load does: an answer of 500 is not a pass. A step that judges
// the status itself (expect.status, an assert on response.status) decides.
func TestAStepWithoutAnExpectedStatusFailsOnAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	for _, c := range []struct {
		name, step string
		want       int
	}{
		{"no expectation", `http { path = "/fail" }`, exitRejected},
		{"a body expectation only", `
      http { path = "/fail" }
      expect { body_contains = "" }`, exitRejected},
		{"an assert on another field", `
      http { path = "/fail" }
      assert {
        condition     = response.duration_ms >= 0
        error_message = "time"
      }`, exitRejected},
		{"expect.status 500", `
      http { path = "/fail" }
      expect { status = 500 }`, exitOK},
		{"an assert on response.status", `
      http { path = "/fail" }
      assert {
        condition     = response.status == 500
        error_message = "the failure is served"
      }`, exitOK},
		{"a success", `http { path = "/ok" }`, exitOK},
	} {
		r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
functional "f" {
  target = target.t
  step "s" {
    ` + c.step + `
  }
}
`})
		if r.code != c.want {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, r.code, c.want, r.terminal)
		}
		if c.want == exitRejected && !strings.Contains(r.terminal, "want 200–399") {
			t.Errorf("%s: the terminal does not say why:\n%s", c.name, r.terminal)
		}
	}
}
