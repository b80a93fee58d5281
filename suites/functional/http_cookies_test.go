package functional

import (
	"strings"
	"testing"
)

// A case keeps a cookie jar: go-httpbin's /cookies/set hands out a cookie
// (on a redirect), the next step sends it; cookies = {…} adds cookies to
// one request and replaces the jar's of the same name; each case starts
// from setup's cookies and never sees another case's.
func TestCookiesFlowFromStepToStepWithinACaseOnly(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
functional "cookies" {
  target = target.httpbin
  setup {
    step "visit" {
      http { path = "/cookies/set?visitor=from-setup" }
      expect { status = 200 }
    }
  }
  case "login" {
    step "set" {
      http { path = "/cookies/set?session=abcdefgh12345" }
      expect { status = 200 }
      assert {
        condition     = response.cookies.session == "abcdefgh12345"
        error_message = "the redirect's Set-Cookie is in response.cookies"
      }
      assert {
        condition     = response.json.cookies.session == "abcdefgh12345" && response.json.cookies.visitor == "from-setup"
        error_message = "the redirected request sent the cookie just set and setup's"
      }
    }
    step "next" {
      http {
        path    = "/cookies"
        cookies = { extra = "more" }
      }
      assert {
        condition     = response.json.cookies == { session = "abcdefgh12345", visitor = "from-setup", extra = "more" }
        error_message = "the next step sends the jar's cookies and its own"
      }
      assert {
        condition     = response.cookies == {}
        error_message = "a response that sets no cookie has none in response.cookies"
      }
    }
    step "override" {
      http {
        path    = "/cookies"
        cookies = { session = "replaced" }
      }
      assert {
        condition     = response.json.cookies.session == "replaced"
        error_message = "a cookie named in cookies replaces the jar's of that name"
      }
    }
    step "still-kept" {
      http { path = "/cookies" }
      assert {
        condition     = response.json.cookies.session == "abcdefgh12345"
        error_message = "cookies = {…} is for its request only"
      }
    }
  }
  case "other" {
    step "fresh" {
      http { path = "/cookies" }
      assert {
        condition     = response.json.cookies == { visitor = "from-setup" }
        error_message = "a case starts with setup's cookies, not another case's"
      }
    }
  }
}`})
	r.passed(t)
}

// Set-Cookie twice: response.header_values lists both; response.headers
// and expect { headers, headers_match } see the same joined value; a
// header sent once is still a plain string.
func TestMultiValueHeadersAreAListAndChecksAgreeOnThem(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
functional "headers" {
  target = target.httpbin
  case "twice" {
    step "two-cookies" {
      http {
        path  = "/response-headers"
        query = { "Set-Cookie" = "a=1", "X-One" = "only" }
      }
      expect {
        status        = 200
        headers       = { "X-One" = "only", "Content-Type" = "application/json; charset=utf-8" }
        headers_match = { "X-One" = "^only$" }
      }
      assert {
        condition     = response.header_values["Set-Cookie"] == ["a=1"] && response.header_values["x-one"] == ["only"]
        error_message = "one value is a list of one"
      }
    }
    step "repeated" {
      http { path = "/response-headers?Set-Cookie=a%3D1&Set-Cookie=b%3D2" }
      expect {
        headers       = { "Set-Cookie" = "a=1, b=2" }
        headers_match = { "set-cookie" = "^a=1, b=2$" }
      }
      assert {
        condition     = response.header_values["Set-Cookie"] == ["a=1", "b=2"]
        error_message = "both values, in order"
      }
      assert {
        condition     = response.headers["Set-Cookie"] == "a=1, b=2" && response.headers["Content-Type"] == "application/json; charset=utf-8"
        error_message = "headers joins several values and keeps one as it came"
      }
      assert {
        condition     = response.cookies == { a = "1", b = "2" }
        error_message = "both cookies by name"
      }
    }
  }
}`})
	r.passed(t)
	ex := r.step(t, "twice", "repeated").Exchange
	if ex == nil || !strings.Contains(ex.URL, "/response-headers") {
		t.Fatalf("exchange %+v", ex)
	}
}

// Cases that run at once (parallel, for_each) each keep their own cookies.
func TestParallelCasesKeepTheirOwnCookies(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
functional "cookies" {
  target   = target.httpbin
  parallel = true
  case "visitor" {
    for_each = ["alice", "bob", "carol", "dave", "erin", "frank"]
    step "set" {
      http { path = "/cookies/set?who=${each.value}" }
      assert {
        condition     = response.json.cookies == { who = each.value }
        error_message = "only this case's cookie"
      }
    }
    step "again" {
      http { path = "/cookies" }
      assert {
        condition     = response.json.cookies == { who = each.value }
        error_message = "still only this case's cookie"
      }
    }
  }
}`})
	r.passed(t)
	if n := strings.Count(outcome(r.results), "/again=passed"); n != 6 {
		t.Errorf("%d cases passed their second step: %s", n, outcome(r.results))
	}
}
