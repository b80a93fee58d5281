package performance

import (
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/testhttpbin"
)

// Each journey iteration is a new visitor with its own cookie jar: the
// cookie one iteration is given is sent by its next step (go-httpbin's
// /cookies echoes it) and never seen by the first step of another.
func TestEachJourneyIterationHasItsOwnCookies(t *testing.T) {
	base := testhttpbin.Start(t)
	res, ls, _ := runLoad(t, base, `
  load {
    rate         = 40
    duration     = "1s"
    max_requests = 60
  }
  journey "visitor" {
    step "fresh" {
      http { path = "/cookies" }
      assert {
        condition     = response.json.cookies == {}
        error_message = "a new iteration has no cookies"
      }
    }
    step "sign-in" {
      http { path = "/cookies/set?visit=seen" }
      assert {
        condition     = response.json.cookies == { visit = "seen" }
        error_message = "the redirect sends the cookie just set"
      }
    }
    step "again" {
      http { path = "/cookies" }
      assert {
        condition     = response.json.cookies.visit == "seen"
        error_message = "the next step sends it"
      }
    }
  }`)
	if res.Status != result.Passed {
		t.Fatalf("%s: %s", res.Status, res.Message)
	}
	if ls.Overall.Requests < 30 || ls.Overall.Errors != 0 {
		t.Fatalf("%d requests, %d errors (%v): %s", ls.Overall.Requests, ls.Overall.Errors, ls.Overall.ErrorKinds, res.Message)
	}
}
