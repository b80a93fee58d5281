package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A JWT-like token whose parts (the signature above all) are secrets too.
const (
	derivedToken     = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.SIGpartSECRETxyz_-q"
	derivedSignature = "SIGpartSECRETxyz_-q"
	cutSecret        = "TRUNCsecretXYZ42"
)

// derivedServer hands out a token (/jwt), echoes the request's headers
// (/echo), answers N padding bytes and then the secret (/pad/N), and a
// JSON number beyond float64's exact integers (/big).
func derivedServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/jwt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"token": derivedToken, "role": "user"})
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"headers": r.Header})
	})
	mux.HandleFunc("/pad/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/pad/"))
		w.Write([]byte(strings.Repeat("A", n) + cutSecret + " and the rest"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"n": 9007199254740993, "one": 1.0, "amount": 12.50}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// Values computed from a secret in a failed check's output: a for's
// element of split(".", capture.token) in a function's error, an
// error_message that upper-cases or cuts a sensitive capture or variable,
// and the token of a login whose own assert failed (its capture never
// taken). None is shown, in no form; what is not secret still is.
func TestPiecesAndFormsOfASecretAreNotShownInFailures(t *testing.T) {
	srv := derivedServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": passwordVariable + hclTarget(srv) + `
functional "f" {
  target = target.t
  case "claims" {
    step "login" {
      http { path = "/jwt" }
      capture { token = response.json.token }
    }
    step "claims" {
      http { path = "/echo" }
      assert {
        condition     = alltrue([for p in split(".", capture.token) : length(base64decode(p)) > 0])
        error_message = "token parts decode"
      }
    }
  }
  case "message" {
    step "login" {
      http { path = "/jwt" }
      capture { token = response.json.token }
    }
    step "use" {
      http { path = "/echo" }
      assert {
        condition     = substr(capture.token, 0, 11) == "x"
        error_message = "prefix was ${substr(capture.token, 0, 11)} and ${upper(capture.token)}, var ${substr(var.pw, 0, 10)}, status ${response.status}"
      }
    }
  }
  case "same_step" {
    step "login" {
      http { path = "/jwt" }
      capture { token = response.json.token }
      assert {
        condition     = response.json.token == "x"
        error_message = "same-step token ${response.json.token}"
      }
    }
  }
}
`}, pwArgs()...)
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d (every case fails)\n%s", r.code, exitRejected, r.terminal)
	}
	// What is no secret is still shown: the status, and the placeholder.
	r.expectFound(t, "report.json", "status 200")
	r.expectFound(t, "report.json", "prefix was [REDACTED]")
	r.expectNoLeak(t, map[string]string{
		"token": derivedToken, "signature": derivedSignature, "upper": strings.ToUpper(derivedToken),
		"upper-signature": strings.ToUpper(derivedSignature), "substr": derivedToken[:11] + " and",
		"pw": plantedPassword, "pw-substr": plantedPassword[:10],
	})
}

// Every string in a sensitive map or list is a secret: for_each over it
// hands each one out as each.value, which the target echoes.
func TestTheElementsOfASensitiveCollectionAreRedacted(t *testing.T) {
	srv := derivedServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
variable "keys" {
  type      = map(string)
  sensitive = true
  default   = { a = "MAPKEYaaaa1111", b = "MAPKEYbbbb2222" }
}
variable "list" {
  type      = list(string)
  sensitive = true
  default   = ["LISTKEYcccc3333"]
}
functional "f" {
  target = target.t
  case "k" {
    for_each = var.keys
    step "s" {
      http {
        path    = "/echo"
        headers = { X-Key = each.value }
      }
      expect { status = 500 }
    }
  }
  case "l" {
    for_each = { for i, k in var.list : "x${i}" => k }
    step "s" {
      http {
        path    = "/echo"
        headers = { X-Key = each.value }
      }
      expect { status = 500 }
    }
  }
}
`})
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "report.json", "X-Key")
	r.expectNoLeak(t, map[string]string{"a": "MAPKEYaaaa1111", "b": "MAPKEYbbbb2222", "list": "LISTKEYcccc3333"})
}

// A failed check shows the first 300 bytes of the body and the excerpt the
// first 8 KB: a secret across either cut is redacted before the cut, not
// cut in two and shown in part.
func TestASecretAcrossAnExcerptsCutIsNotShownInPart(t *testing.T) {
	srv := derivedServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
variable "pw" {
  sensitive = true
  default   = "` + cutSecret + `"
}
functional "f" {
  target = target.t
  case "c" {
    for_each = { o288 = 288, o292 = 292, o296 = 296, o299 = 299, o8180 = 8180, o8190 = 8190 }
    step "s" {
      http { path = "/pad/${each.value}" }
      expect { body_contains = "nothing" }
    }
  }
}
`})
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "report.json", "does not contain")
	// Any piece of the secret after the padding.
	r.expectNoLeak(t, map[string]string{"piece": "ATRU", "secret": cutSecret})
}

// A tag names its suite in the plan and every report: a sensitive value
// in one is refused where it is written.
func TestASensitiveTagIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(passwordVariable+`
functional "f" {
  tags = ["t-${var.pw}"]
  step "s" {
    tcp { address = "127.0.0.1:1" }
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"validate", "plan", "run"} {
		var stdout, stderr bytes.Buffer
		args := []string{cmd, "--no-color"}
		if cmd == "run" {
			args = append(args, "--out", filepath.Join(dir, "out"))
		}
		code := run(append(args, append(pwArgs(), dir)...), &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != exitUsage || !strings.Contains(out, "Sensitive value in tags") || !strings.Contains(out, "main.hcl line 7") {
			t.Errorf("%s: exit %d, want %d and the tags refused on main.hcl line 7:\n%s", cmd, code, exitUsage, out)
		}
		if strings.Contains(out, plantedPassword) {
			t.Errorf("%s shows the password:\n%s", cmd, out)
		}
	}
}

// expect.json compares numbers exactly: an account number one past 2^53
// is not the one before it (float64 has no such integer), and 1.0 is 1.
func TestExpectJSONComparesNumbersExactly(t *testing.T) {
	srv := derivedServer(t)
	suite := func(n string) map[string]string {
		return map[string]string{"main.hcl": hclTarget(srv) + `
functional "f" {
  target = target.t
  step "s" {
    http { path = "/big" }
    expect { json = { n = ` + n + `, one = 1, amount = 12.5 } }
  }
}
`}
	}
	if r := runForLeaks(t, suite("9007199254740992")); r.code != exitRejected || !strings.Contains(r.terminal, "9007199254740993") {
		t.Errorf("n = 2^53 against 2^53+1: exit %d, want %d with the number shown:\n%s", r.code, exitRejected, r.terminal)
	}
	if r := runForLeaks(t, suite("9007199254740993")); r.code != exitOK {
		t.Errorf("the same numbers: exit %d, want %d:\n%s", r.code, exitOK, r.terminal)
	}
}

// A JSON answer with a key twice in one object ({"ok": false, "ok": true},
// or "st\u0061tus" beside "status") fails expect.json: which value a
// client reads depends on its parser.
func TestADuplicateJSONKeyFailsExpectJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status": "denied", "st\u0061tus": "ok"}`))
	}))
	defer srv.Close()
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
functional "f" {
  target = target.t
  step "s" {
    http { path = "/" }
    expect { json = { status = "ok" } }
  }
}
`})
	if r.code != exitRejected || !strings.Contains(r.terminal, "twice") {
		t.Fatalf("exit %d, want %d with the duplicate named:\n%s", r.code, exitRejected, r.terminal)
	}
}

// Review of the first version: a transform of each.value from a sensitive
// for_each, of a response value that a sensitive capture reads, and a
// sensitive capture after one that failed, all reached the outputs.
func TestTransformsOfEachAndOfCapturedResponsesAreNotShown(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/ref" { // only the case that captures it sees it
			w.Write([]byte(`{"ref": "QQrefVALUE98765", "role": "user"}`))
			return
		}
		w.Write([]byte(`{"token": "SECRETtok123456", "role": "user"}`))
	}))
	defer srv.Close()
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
variable "keys" {
  sensitive = true
  default   = { a = "KEYalphaSECRET1" }
}
functional "f" {
  target = target.t
  case "each" {
    for_each = var.keys
    step "s" {
      http { path = "/" }
      assert {
        condition     = each.value == "x"
        error_message = "bad key ${upper(each.value)} ${substr(each.value, 0, 8)} for ${each.key}"
      }
    }
  }
  case "resp" {
    step "s" {
      http { path = "/" }
      capture { t = sensitive(response.json.token) }
      assert {
        condition     = response.json.role == "admin"
        error_message = "tok ${upper(response.json.token)} ${substr(response.json.token, 0, 10)}, role ${response.json.role}"
      }
    }
  }
  case "after_a_failed_capture" {
    step "s" {
      http { path = "/ref" }
      capture {
        a_id = response.json.role.x
        ref  = sensitive(response.json.ref)
      }
    }
  }
}
`})
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "report.json", "role user")
	r.expectFound(t, "report.json", "for a")
	r.expectNoLeak(t, map[string]string{
		"each": "KEYalphaSECRET1", "each-upper": "KEYALPHASECRET1", "each-substr": "KEYalpha ",
		"token": "SECRETtok123456", "token-upper": "SECRETTOK123456", "token-substr": "SECRETtok1",
		"ref": "QQrefVALUE98765",
	})
}

// A step_template's param given each.value of a sensitive for_each, or a
// sensitive capture, is a secret inside the template: a message there
// that shows a transform of it, or a request header computed from it,
// reached the outputs; so did a header computed from each.value itself.
func TestTemplateParamOfSecretEachIsNotShown(t *testing.T) {
	srv := loginServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
variable "keys" {
  sensitive = true
  default   = { a = "KEYalphaSECRET1" }
}
step_template "with_key" {
  param "key" {}
  param "label" {}
  http {
    path    = "/"
    headers = { X-Key = upper(param.key), X-Label = param.label }
  }
  assert {
    condition     = response.json.role == "admin"
    error_message = "key ${param.key} ${upper(param.key)} ${substr(param.key, 0, 8)} role ${response.json.role} for ${param.label}"
  }
}
functional "f" {
  target = target.t
  case "each" {
    for_each = var.keys
    step "s" {
      use  = step_template.with_key
      with = { key = each.value, label = "L-${each.key}" }
    }
  }
  case "direct" {
    for_each = var.keys
    step "direct" {
      http {
        path    = "/"
        headers = { X-Each = replace(each.value, "SECRET", "S3CR3T") }
      }
      assert {
        condition     = response.json.role == "admin"
        error_message = "direct role ${response.json.role}"
      }
    }
  }
  case "captured" {
    step "login" {
      http { path = "/login" }
      capture { tok = sensitive(response.json.tok) }
    }
    step "use" {
      use  = step_template.with_key
      with = { key = capture.tok, label = "C" }
    }
  }
}
`})
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "report.json", "role user for L-a")
	r.expectFound(t, "report.json", "role user for C")
	r.expectFound(t, "report.json", "direct role user")
	r.expectNoLeak(t, map[string]string{
		"each": "KEYalphaSECRET1", "each-upper": "KEYALPHASECRET1", "each-substr": "KEYalpha ", "each-swap": "KEYalphaS3CR3T1",
		"tok": "TOKbetaSECRET22", "tok-upper": "TOKBETASECRET22", "tok-substr": "TOKbetaS ",
	})
}

// A capture that is not sensitive by itself but is computed from a secret
// known only at run time (each.value of a sensitive for_each, a sensitive
// capture, a template's param given one) is a secret too: a message that
// showed it printed upper(each.value) and upper(capture.tok).
func TestACaptureComputedFromARunTimeSecretIsNotShown(t *testing.T) {
	srv := loginServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
variable "keys" {
  sensitive = true
  default   = { a = "KEYalphaSECRET1" }
}
variable "limits" {
  sensitive = true
  default   = { a = { limit = 2, key = "LIMkeySECRET33" } }
}
step_template "take" {
  param "key" {}
  http { path = "/" }
  capture { kk = lower(param.key) }
}
step_template "take2" {
  param "key" {}
  http { path = "/" }
  capture { k2 = replace(param.key, "SECRET", "-s-") }
}
functional "f" {
  target = target.t
  case "each" {
    for_each = var.keys
    step "take" {
      http { path = "/" }
      capture { xx = upper(each.value) }
    }
    step "show" {
      http { path = "/" }
      assert {
        condition     = response.json.role == "admin"
        error_message = "each ${capture.xx} role ${response.json.role}"
      }
    }
  }
  case "captured" {
    step "login" {
      http { path = "/login" }
      capture { qq = sensitive(response.json.tok) }
    }
    step "derive" {
      http { path = "/" }
      capture { yy = upper(capture.qq) }
    }
    step "param" {
      use  = step_template.take
      with = { key = capture.qq }
    }
    step "whole" {
      use  = step_template.take2
      with = { key = lookup(capture, "qq", "") }
    }
    step "show" {
      http { path = "/" }
      assert {
        condition     = response.json.role == "admin"
        error_message = "cap ${capture.yy} ${capture.kk} ${capture.k2} role ${response.json.role}"
      }
    }
  }
  case "whole" {
    step "login" {
      http { path = "/login" }
      capture { qq = sensitive(response.json.tok) }
    }
    step "header" {
      http {
        path    = "/"
        headers = { X-Up = upper(lookup(capture, "qq", "")) }
      }
      assert {
        condition     = response.json.role == "admin"
        error_message = "inline ${upper(lookup(capture, "qq", ""))} role ${response.json.role}"
      }
    }
  }
  case "short" {
    for_each = var.limits
    step "take" {
      http { path = "/" }
      capture { lim = each.value.limit }
    }
    step "show" {
      http { path = "/" }
      assert {
        condition     = response.json.role == "admin"
        error_message = "lim ${capture.lim} of 12 in 2026 role ${response.json.role}"
      }
    }
  }
}
`})
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "report.json", "each [REDACTED] role user")
	r.expectFound(t, "report.json", "cap [REDACTED] [REDACTED] [REDACTED] role user")
	r.expectFound(t, "report.json", "inline [REDACTED] role user")
	// A short value computed from a secret is a placeholder where it is
	// read, not matched in every text (every 2 would go).
	r.expectFound(t, "report.json", "lim [REDACTED] of 12 in 2026 role user")
	r.expectNoLeak(t, map[string]string{
		"each": "KEYalphaSECRET1", "each-upper": "KEYALPHASECRET1",
		"tok": "TOKbetaSECRET22", "tok-upper": "TOKBETASECRET22", "tok-lower": "tokbetasecret22",
		"tok-swap": "TOKbeta-s-22",
	})
}

// loginServer answers /login with {"tok": "TOKbetaSECRET22"} and every
// other path with {"role": "user"}.
func loginServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/login" {
			w.Write([]byte(`{"tok": "TOKbetaSECRET22"}`))
			return
		}
		w.Write([]byte(`{"role": "user"}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}
