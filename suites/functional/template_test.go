package functional

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

const loginTemplate = `
step_template "login" {
  description = "Logs a customer in and keeps her token."
  param "user" {}
  param "password" { sensitive = true }
  param "status" {
    type    = number
    default = 200
  }
  http {
    method = "POST"
    path   = "/api/login"
    json   = { user = param.user, password = param.password }
  }
  expect { status = param.status }
  capture { token = sensitive(try(response.json.token, "")) }
}
`

// One step_template serves a setup, a data-driven case (its arguments
// from each) and a step that adds its own assert, against the demo bank.
func TestAStepTemplateIsUsedWithItsArgumentsAgainstTheDemoBank(t *testing.T) {
	rs := run(t, loginTemplate+`
functional "reuse" {
  target = target.demo
  setup {
    step "login" {
      use  = step_template.login
      with = { user = "bob", password = "builder" }
    }
  }
  case "own account" {
    for_each = { alice = "wonderland", carol = "caterpillar" }
    step "wrong" {
      use  = step_template.login
      with = { user = each.key, password = "not-${each.value}", status = 401 }
    }
    step "login" {
      use  = step_template.login
      with = { user = each.key, password = each.value }
      assert {
        condition     = response.json.token != ""
        error_message = "a token comes back"
      }
    }
    step "account" {
      http {
        path    = "/api/accounts/${each.key == "alice" ? 1 : 3}"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      expect { status = 200 }
      assert {
        condition     = response.json.owner == each.key
        error_message = "each customer reads her own account"
      }
    }
  }
}
`, 30e9)
	got := outcome(rs)
	for _, want := range []string{"setup setup/login=passed", "test own account[alice]/wrong=passed", "test own account[alice]/login=passed",
		"test own account[alice]/account=passed", "test own account[carol]/login=passed", "test own account[carol]/account=passed", "suite=passed"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in %s", want, got)
		}
	}
	for _, r := range rs {
		if r.Status != result.Passed {
			t.Errorf("%s %s/%s: %s", r.Level, r.Case, r.Step, r.Message)
		}
	}
}

// A param that receives a secret keeps it secret: declared sensitive and
// given a literal (known at load) or each.value (known at run time), or
// given a sensitive variable. go-httpbin echoes the request, the assert
// fails on purpose, and no file of the run directory holds the secrets,
// in the clear or in base64.
func TestAParamGivenASecretIsRedactedFromEveryFileOfTheRun(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
variable "pw" {
  default   = "Var-Secr3t-9x"
  sensitive = true
}
step_template "echo" {
  param "user" {}
  param "password" { sensitive = true }
  param "plain" { default = "" }
  http {
    method  = "POST"
    path    = "/anything/${param.user}"
    headers = { X-Pass = base64encode(param.password), X-Plain = param.plain }
    json    = { user = param.user, password = param.password, plain = param.plain }
  }
  expect { status = 200 }
  capture { echoed = response.json.json.password }
  assert {
    condition     = response.json.json.password == "never"
    error_message = "the echo of ${response.json.json.password} and ${response.json.headers.X-Pass[0]} and ${param.plain}"
  }
}
functional "secrets" {
  target = target.httpbin
  case "literal" {
    step "echo" {
      use  = step_template.echo
      with = { user = "alice", password = "Lit3ral-Secr3t" }
    }
  }
  case "each" {
    for_each = { bob = "Each-Secr3t-7q" }
    step "echo" {
      use  = step_template.echo
      with = { user = each.key, password = each.value }
    }
  }
  case "variable" {
    step "echo" {
      use  = step_template.echo
      with = { user = "carol", password = "x", plain = var.pw }
    }
  }
}`})
	for _, c := range []string{"literal", "each[bob]", "variable"} {
		res := r.step(t, c, "echo")
		if res.Status != result.Failed || !strings.Contains(res.Message, "[REDACTED]") {
			t.Errorf("%s: %s %s", c, res.Status, res.Message)
		}
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	grepRunDir(t, r.dir, "Lit3ral-Secr3t", b64("Lit3ral-Secr3t"), "Each-Secr3t-7q", b64("Each-Secr3t-7q"), "Var-Secr3t-9x")
}

// Diagnostics of a use point at the use and name the template's
// definition; those found in the template's body point at the body and
// name the use.
func TestStepTemplateDiagnosticsPointAtTheUseAndTheDefinition(t *testing.T) {
	tpl := `
step_template "get" {
  param "id" { type = number }
  param "label" { default = "x" }
  http { path = "/anything/${param.id}/${param.label}" }
  expect { status = 200 }
}
`
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"an unknown template", `
functional "f" {
  target = target.httpbin
  step "s" { use = step_template.gte }
}`, []string{"suite.hcl:12,", "Unknown step_template", `No step_template "gte"`, `Did you mean "get"?`}},
		{"an unknown param", `
functional "f" {
  target = target.httpbin
  step "s" {
    use  = step_template.get
    with = { id = 1, lable = "y" }
  }
}`, []string{"suite.hcl:14,", "Unknown param", `has no param "lable"`, "defined at", "suite.hcl:3", `Did you mean "label"?`}},
		{"a missing param", `
functional "f" {
  target = target.httpbin
  step "s" {
    use  = step_template.get
    with = { label = "y" }
  }
}`, []string{"suite.hcl:14,", "Missing param", `needs param "id" (declared at`, "suite.hcl:4"}},
		{"a wrong type at the use", `
functional "f" {
  target = target.httpbin
  step "s" {
    use  = step_template.get
    with = { id = "seven" }
  }
}`, []string{"suite.hcl:14,", "Wrong type", `param "id" of step_template "get"`, "must be number"}},
		{"a type error inside the template", `
functional "f" {
  target = target.httpbin
  step "s" {
    use  = step_template.get
    with = { id = 1, label = { a = 1 } }
  }
}`, []string{"suite.hcl:6,", "Invalid template interpolation value", `used by step "s" at`, "suite.hcl:12"}},
		{"with without use", `
functional "f" {
  target = target.httpbin
  step "s" {
    http { path = "/get" }
    with = { id = 1 }
  }
}`, []string{"with needs use"}},
		{"param outside a template", `
functional "f" {
  target = target.httpbin
  step "s" {
    http { path = "/get/${param.id}" }
  }
}`, []string{"param is known only inside a step_template"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := loadDiags(t, tpl+tc.src)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("want %q in:\n%s", w, got)
				}
			}
		})
	}
}

// A step_template no step uses is a warning, and a misspelt param or
// function in it is an error all the same.
func TestAnUnusedStepTemplateIsAWarningAndStillChecked(t *testing.T) {
	got := loadDiags(t, `
step_template "orphan" {
  param "id" {}
  http { path = "/anything/${param.idd}/${uper("x")}" }
}
functional "f" {
  target = target.httpbin
  step "s" {
    http { path = "/get" }
  }
}`)
	for _, w := range []string{"Unused step_template", `No step uses step_template "orphan"`,
		`declares no param "idd"`, `Did you mean "id"?`, `There is no function named "uper"`} {
		if !strings.Contains(got, w) {
			t.Errorf("want %q in:\n%s", w, got)
		}
	}
}

// A capture that reads a sensitive param is sensitive: a later step that
// is not a template's, and sends it, has it redacted too, also when the
// argument was known only during the run.
func TestACaptureOfASensitiveParamStaysSecretInLaterSteps(t *testing.T) {
	r := runHTTPBin(t, map[string]string{"suite.hcl": `
step_template "remember" {
  param "secret" { sensitive = true }
  http { path = "/get" }
  capture { copy = param.secret }
}
functional "later" {
  target = target.httpbin
  case "c" {
    for_each = { one = "Run-Time-Secr3t-41" }
    step "remember" {
      use  = step_template.remember
      with = { secret = each.value }
    }
    step "echo" {
      http { path = "/anything/${capture.copy}" }
      assert {
        condition     = response.json.url == ""
        error_message = "the echo of ${response.json.url} is here"
      }
    }
  }
}`})
	res := r.step(t, "c[one]", "echo")
	if res.Status != result.Failed || !strings.Contains(res.Message, "[REDACTED]") {
		t.Fatalf("echo %s: %s", res.Status, res.Message)
	}
	grepRunDir(t, r.dir, "Run-Time-Secr3t-41")
}
