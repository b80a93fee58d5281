package security

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// laxAPI plants, when weak, the weaknesses the bank API does not: a
// path that takes any token, one that takes an expired token, a throttle
// that comes too late and an Origin of null allowed with credentials. It
// reads the credential from Authorization (Bearer) or X-Session, and
// refuses the token anywhere else, so a check that sends it in the wrong
// header finds nothing.
type laxAPI struct {
	weak     bool
	mu       sync.Mutex
	failures int
}

func (b *laxAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if tok == "" {
		tok = r.Header.Get("X-Session")
	}
	valid := tok == "alice-token"
	switch r.URL.Path {
	case "/login":
		b.mu.Lock()
		defer b.mu.Unlock()
		limit := 2
		if b.weak {
			limit = 5
		}
		if b.failures >= limit {
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		if r.URL.Query().Get("password") == "alice-pw" {
			fmt.Fprint(w, `{"token": "alice-token"}`)
			return
		}
		b.failures++
		http.Error(w, "no", http.StatusUnauthorized)
	case "/api/any-token":
		if !valid && !(b.weak && tok != "") {
			http.Error(w, "credentials required", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "{}")
	case "/api/stale":
		if !valid && !(b.weak && tok == "expired-token") {
			http.Error(w, "credentials required", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "{}")
	case "/cors":
		if b.weak {
			w.Header().Set("Access-Control-Allow-Origin", "null")
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		fmt.Fprint(w, "{}")
	default:
		http.NotFound(w, r)
	}
}

// laxSuite logs alice in and sends her token in header (with an Accept
// header beside it, first in sorted order).
func laxSuite(base, header, value string) string {
	return fmt.Sprintf(`
target "api" { url = %q }

security "lax" {
  target = target.api
  scope { allow = ["127.0.0.1"] }

  identity "alice" {
    step "login" {
      http {
        method = "POST"
        path   = "/login"
        query  = { password = "alice-pw" }
      }
      expect { status = 200 }
      capture { token = response.json.token }
    }
    headers = { Accept = "application/json", %s = %q }
  }

  check "auth" {
    paths         = ["/api/any-token", "/api/stale"]
    expired_token = "expired-token"
  }
  check "cors" { paths = ["/cors"] }
  check "rate_limit" {
    attempts = 8
    within   = 3
    step "guess" {
      http {
        method = "POST"
        path   = "/login"
        query  = { password = "guess-${each.value}" }
      }
    }
  }
}
`, base, header, value)
}

func TestPlantedTokenThrottleAndNullOriginWeaknesses(t *testing.T) {
	for _, c := range []struct{ header, value string }{
		{"Authorization", "Bearer ${capture.token}"},
		{"X-Session", "${capture.token}"},
	} {
		t.Run(c.header, func(t *testing.T) {
			weak := httptest.NewServer(&laxAPI{weak: true})
			defer weak.Close()
			r := runSuite(t, laxSuite(weak.URL, c.header, c.value), nil)
			want := []string{"auth/expired-token", "auth/forged-token",
				"cors/null-origin-with-credentials", "rate_limit/late-throttle"}
			if got := r.ids(); !slices.Equal(got, want) {
				t.Fatalf("planted target: findings\n got %v\nwant %v\nmessage: %s", got, want, r.suite.Message)
			}
			if f := r.finding("auth/forged-token"); f.Where != "/api/any-token" {
				t.Errorf("forged token found at %s, want /api/any-token", f.Where)
			}
			var stale []string
			for _, f := range r.sum.Findings {
				if f.ID == "auth/expired-token" {
					stale = append(stale, f.Where)
				}
			}
			if !slices.Equal(stale, []string{"/api/any-token", "/api/stale"}) {
				t.Errorf("expired token found at %v, want both paths", stale)
			}
			if f := r.finding("rate_limit/late-throttle"); !strings.Contains(f.Detail, "attempt 6") {
				t.Errorf("late throttle: %s", f.Detail)
			}

			hard := httptest.NewServer(&laxAPI{})
			defer hard.Close()
			r = runSuite(t, laxSuite(hard.URL, c.header, c.value), nil)
			if len(r.sum.Findings) != 0 || r.suite.Status != result.Passed {
				t.Fatalf("hardened target: findings %v, suite %s: %s", r.ids(), r.suite.Status, r.suite.Message)
			}
		})
	}
}

// TestDefaultCredentialsFollowTheStepsExpect: a login that answers 200 to
// every pair, with the refusal in the body, accepts only the pair its
// expect recognises.
func TestDefaultCredentialsFollowTheStepsExpect(t *testing.T) {
	for _, weak := range []bool{true, false} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if weak && q.Get("user") == "admin" && q.Get("password") == "admin" {
				fmt.Fprint(w, `{"ok": true, "token": "t0ken-admin"}`)
				return
			}
			fmt.Fprint(w, `{"ok": false, "error": "wrong password"}`)
		}))
		r := runSuite(t, fmt.Sprintf(`
target "api" { url = %q }

security "creds" {
  target = target.api
  scope { allow = ["127.0.0.1"] }
  check "default_credentials" {
    pairs = [["admin", "admin"], ["root", "root"], ["guest", "guest"]]
    step "login" {
      http {
        method = "POST"
        path   = "/login"
        query  = { user = each.value.user, password = each.value.password }
      }
      expect { body_contains = "token" }
    }
  }
}
`, srv.URL), nil)
		srv.Close()
		var where []string
		for _, f := range r.sum.Findings {
			where = append(where, f.ID+" "+f.Where)
		}
		want := []string(nil)
		if weak {
			want = []string{"default_credentials/accepted admin"}
		}
		if !slices.Equal(where, want) {
			t.Errorf("weak=%v: findings %v, want %v (%s)", weak, where, want, r.suite.Message)
		}
	}
}
