package security

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
)

func TestBadInputGetsClearDiagnostics(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // substrings of the diagnostics, with the line
	}{
		{"no scope", `
security "s" {
  target = target.t
  checks = ["headers"]
}`, []string{"suite.hcl:3", "must declare exactly one scope"}},
		{"unknown check in the list", `
security "s" {
  target = target.t
  scope { allow = ["127.0.0.1"] }
  checks = ["headers", "xss"]
}`, []string{"suite.hcl:6", `names "xss"`}},
		{"unknown check block", `
security "s" {
  target = target.t
  scope { allow = ["127.0.0.1"] }
  check "sqlmap" {}
}`, []string{"suite.hcl:6", `There is no check "sqlmap"`}},
		{"bad ports and waiver", `
security "s" {
  target = target.t
  scope {
    allow = ["127.0.0.1"]
    rate  = 0
  }
  check "exposure" { ports = [80, "90-70"] }
  waiver "csp" {
    reason   = "x"
    approver = "y"
    expires  = "31/12/2027"
  }
}`, []string{"suite.hcl:7", `"rate" must be above zero`, "suite.hcl:9", `found "90-70"`, "suite.hcl:10", `a finding id is "check/rule"`, "suite.hcl:13", `found "31/12/2027"`}},
		{"rate limit without its step", `
security "s" {
  target = target.t
  scope { allow = ["127.0.0.1"] }
  check "rate_limit" {
    attempts = 3
    within   = 5
  }
}`, []string{"suite.hcl:6", "needs exactly one step block", "within (5) must not exceed attempts (3)"}},
		{"huge port range, default within, long sleep, fractional status", `
security "s" {
  target = target.t
  scope { allow = ["127.0.0.1"] }
  check "exposure" {
    ports = [80, "1-2000000000"]
  }
  check "rate_limit" {
    attempts     = 3
    block_status = 429.5
    step "guess" {
      http { path = "/login" }
    }
  }
  check "injection" {
    sleep = "9s"
    parameter "q" { path = "/search" }
  }
  check "cors" { paths = ["/"] }
  check "exposure" { allow_ports = [80.5] }
}`, []string{"suite.hcl:7", `the range "1-2000000000" is not within 1-65535`,
			"suite.hcl:10", "within defaults to 5, which must not exceed attempts (3)",
			"suite.hcl:11", `"block_status" must be a whole number or a list of whole numbers, such as [429, 403]; found 429.5`,
			"suite.hcl:17", `"sleep" must be at most 8s`,
			"suite.hcl:21", "found 80.5"}},
		{"too many ports", `
security "s" {
  target = target.t
  scope { allow = ["127.0.0.1"] }
  check "exposure" { ports = ["1-1000", "2000-2100"] }
}`, []string{"suite.hcl:6", "a sweep is bounded to 1024 ports per host"}},
		{"drill problems", `
security "s" {
  target = target.t
  scope { allow = ["127.0.0.1"] }
  drill "d" {
    attack "a" {
      mitre     = "1110"
      technique = "phishing"
      expect_detection {
        within = "5s"
        webhook {}
      }
    }
    attack "b" {
      step "q" {
        sql {
          driver = "postgres"
          dsn    = "postgres://x"
          query  = "select 1"
        }
      }
      expect_detection { within = "1s" }
    }
  }
}`, []string{"suite.hcl:8", `"T1110.004"`, "suite.hcl:9", `"phishing"`, "suite.hcl:10", "opens none",
			"suite.hcl:16", "database drivers open their own connections", "suite.hcl:23", "needs status"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			src := "target \"t\" { url = \"http://127.0.0.1:1\" }\n" + c.src
			os.WriteFile(filepath.Join(dir, "suite.hcl"), []byte(src), 0o644)
			_, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var text []string
			for _, d := range diags {
				loc := ""
				if d.Subject != nil {
					loc = config.Location(*d.Subject)
				}
				text = append(text, loc+" "+d.Summary+": "+d.Detail)
			}
			all := strings.Join(text, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, all)
				}
			}
		})
	}
}
