package functional

import (
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// A failed condition over response.cookies prints the cookie's name, never
// its value, however short; a capture of it is sensitive, and redacted
// also in the answer of the step that captured it.
func TestCookieValuesAreRedactedInFailedConditions(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
functional "cookies" {
  target = target.httpbin
  case "c" {
    step "set" {
      http { path = "/response-headers?Set-Cookie=pin%3D4711" }
      capture { c = response.cookies.pin }
    }
    step "check" {
      http { path = "/anything" }
      assert {
        condition     = capture.c == "0000" && response.cookies == {}
        error_message = "the pin is ${capture.c}"
      }
    }
  }
  case "d" {
    step "again" {
      http { path = "/response-headers?Set-Cookie=pin%3D4711" }
      assert {
        condition     = response.cookies.pin == "0000"
        error_message = "the pin is wrong"
      }
    }
  }
}`})
	check := r.step(t, "c", "check")
	if check.Status != result.Failed || !strings.Contains(check.Message, "the pin is [REDACTED]") {
		t.Errorf("check %s: %s", check.Status, check.Message)
	}
	again := r.step(t, "d", "again")
	if again.Status != result.Failed || !strings.Contains(again.Message, `response.cookies.pin as "[REDACTED]"`) || strings.Contains(again.Message, "4711") {
		t.Errorf("again %s: %s", again.Status, again.Message)
	}
	// (the URL of case d, written in the suite, keeps the short value:
	// cookie values shorter than 8 characters are not learned as
	// credentials, as before; a sensitive capture of one is redacted.)
	if c := r.step(t, "c", "set"); c.Exchange == nil || strings.Contains(c.Exchange.URL, "4711") {
		t.Errorf("the step that captured the cookie keeps it in its URL: %+v", c.Exchange)
	}
}
