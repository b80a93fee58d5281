package functional

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// basic_auth logs in to go-httpbin's /basic-auth; its password, given in a
// variable that is not marked sensitive or written out short, is redacted
// from every file of the run, in the clear and in base64, also where
// go-httpbin echoes the Authorization header in a failed step's body.
func TestBasicAuthLogsInAndItsPasswordIsRedactedEverywhere(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
variable "pw" { default = "Op3n-Sesame!x" }
functional "auth" {
  target = target.httpbin
  case "basic" {
    step "login" {
      http {
        path       = "/basic-auth/alice/${var.pw}"
        basic_auth = { user = "alice", password = var.pw }
      }
      expect {
        status = 200
        json   = { authenticated = true, user = "alice" }
      }
    }
    step "wrong" {
      http {
        path       = "/basic-auth/alice/${var.pw}"
        basic_auth = { user = "alice", password = "nope" }
      }
      expect { status = 401 }
    }
    step "echo" {
      http {
        path       = "/anything/short1"
        basic_auth = { user = "alice", password = "short1" }
      }
      assert {
        condition     = response.body == ""
        error_message = "the echo of ${response.json.url} and ${response.json.headers.Authorization[0]} is here"
      }
    }
  }
}`})
	if st := r.step(t, "basic", "login").Status; st != result.Passed {
		t.Fatalf("login %s: %s", st, r.step(t, "basic", "login").Message)
	}
	if st := r.step(t, "basic", "wrong").Status; st != result.Passed {
		t.Fatalf("wrong password %s: %s", st, r.step(t, "basic", "wrong").Message)
	}
	echo := r.step(t, "basic", "echo")
	if echo.Status != result.Failed || !strings.Contains(echo.Message, "[REDACTED]") {
		t.Fatalf("echo %s: %s", echo.Status, echo.Message)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	grepRunDir(t, r.dir, "Op3n-Sesame!x", "Op3n-Sesame%21x", "short1", b64("alice:Op3n-Sesame!x"), b64("alice:short1"), "nope")
}

func TestBasicAuthNeedsUserAndPasswordOnly(t *testing.T) {
	got := loadDiags(t, `
functional "auth" {
  target = target.httpbin
  case "c" {
    step "s" {
      http { basic_auth = { user = "alice", pass = "x" } }
    }
  }
}`)
	for _, want := range []string{`suite.hcl:7,45-49: Unsupported basic_auth key; basic_auth takes user and password; "pass" is neither.`, "Missing basic_auth password"} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, got)
		}
	}
}
