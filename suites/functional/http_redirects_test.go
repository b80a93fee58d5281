package functional

import (
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// go-httpbin's /redirect/N redirects N times to /get: response.redirects
// lists the hops, response.url is where the answer came from, and
// max_redirects stops a chain that is longer.
func TestRedirectsAreListedAndBoundedByMaxRedirects(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
functional "redirects" {
  target = target.httpbin
  case "followed" {
    step "three" {
      http { path = "/redirect/3" }
      expect { status = 200 }
      assert {
        condition     = length(response.redirects) == 3 && endswith(response.url, "/get")
        error_message = "three hops to /get"
      }
      assert {
        condition     = [for h in response.redirects : h.status] == [302, 302, 302] && endswith(response.redirects[0].url, "/redirect/3") && endswith(response.redirects[0].location, "/relative-redirect/2")
        error_message = "each hop has its status, url and location"
      }
    }
    step "not-followed" {
      http {
        path             = "/redirect/1"
        follow_redirects = false
      }
      expect { status = 302 }
      assert {
        condition     = response.redirects == [] && endswith(response.url, "/redirect/1") && response.headers.Location == "/get"
        error_message = "without following, no hops and the URL asked"
      }
    }
    step "within-limit" {
      http {
        path          = "/redirect/2"
        max_redirects = 2
      }
      expect { status = 200 }
    }
  }
  case "too-many" {
    step "over-limit" {
      http {
        path          = "/redirect/3"
        max_redirects = 2
      }
    }
  }
}`})
	for _, name := range []string{"three", "not-followed", "within-limit"} {
		if res := r.step(t, "followed", name); res.Status != result.Passed {
			t.Errorf("%s %s: %s", name, res.Status, res.Message)
		}
	}
	over := r.step(t, "too-many", "over-limit")
	if over.Status != result.Errored || !strings.Contains(over.Message, "stopped after 2 redirects (max_redirects = 2); the next would have gone to http://127.0.0.1:") {
		t.Errorf("over the limit %s: %s", over.Status, over.Message)
	}
	if strings.Count(over.Message, "/redirect/3") != 1 {
		t.Errorf("the message names the request more than once: %s", over.Message)
	}
}
