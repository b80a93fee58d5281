package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// The secrets of the reviewer's leak search: characters that encoders
// treat differently (& / + = ? #) and one beyond ASCII.
const (
	reviewPassword  = `Tr0ub4dor&3/xK+9=ab`
	reviewPassword2 = `Pässw&rd/S3cr+t?=#`
)

// encodingEchoServer echoes the values of the request's X-Pw headers in
// the encodings of other languages' libraries: PHP's json_encode, Python's
// json.dumps and urllib.parse.quote, a query encoded twice.
func encodingEchoServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		var b strings.Builder
		for _, h := range []string{"X-Pw", "X-Pw2"} {
			v := r.Header.Get(h)
			if v == "" {
				continue
			}
			fmt.Fprintf(&b, "php: {\"pw\":\"%s\"}\n", jsonVariant(v, true, true, false))
			fmt.Fprintf(&b, "php-amp: {\"pw\":\"%s\"}\n", jsonVariant(v, true, true, true))
			fmt.Fprintf(&b, "python-json: {\"pw\": \"%s\"}\n", jsonVariant(v, false, true, false))
			fmt.Fprintf(&b, "quote: /login?next=%s\n", pyQuote(v, "/", false))
			fmt.Fprintf(&b, "quote-lower: %s\n", pyQuote(v, "/", true))
			fmt.Fprintf(&b, "quote-plus: %s\n", pyQuote(v, "", false))
			fmt.Fprintf(&b, "twice: ?q=%s\n", url.QueryEscape(url.QueryEscape(v)))
			fmt.Fprintf(&b, "quote-twice: %s\n", pyQuote(pyQuote(v, "/", false), "/", false))
			js, _ := json.Marshal(map[string]string{"u": "?pw=" + pyQuote(v, "", false)})
			fmt.Fprintf(&b, "quote-in-json: %s\n", jsonVariant(string(js), true, true, false))
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, b.String())
	}))
	t.Cleanup(srv.Close)
	return srv
}

const reviewVariables = `
variable "pw" {
  sensitive = true
}
variable "pw2" {
  sensitive = true
}
variable "hname" {
  sensitive = true
}
`

func reviewArgs() []string {
	return []string{"--var", "pw=" + reviewPassword, "--var", "pw2=" + reviewPassword2, "--var", "hname=Hdr-S3cretName77"}
}

// Point 1: the target echoes the secrets in the encodings of PHP and
// Python; the failed assert prints the body, the excerpt keeps it.
// Point 3: a secret used as a header name is kept in canonical case.
func TestSecretsInOtherEncodersFormsAreRedacted(t *testing.T) {
	srv := encodingEchoServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": reviewVariables + hclTarget(srv) + `
functional "f" {
  target = target.t
  step "echo" {
    http {
      path    = "/enc"
      headers = { X-Pw = var.pw, X-Pw2 = var.pw2, (var.hname) = "x" }
    }
    assert {
      condition     = response.body == "nothing"
      error_message = "The echo differs."
    }
  }
}
`}, reviewArgs()...)
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "results.jsonl", "The echo differs.")
	r.expectFound(t, "report.json", "quote-twice: ")
	r.expectNoLeak(t, map[string]string{"pw": reviewPassword, "pw2": reviewPassword2, "hname": "Hdr-S3cretName77"})
}

// Point 6: a password with / and # in a URL's user information breaks the
// parse; the error names the URL without it (the parser's error quoted
// the part before the /), on the terminal and in every file.
func TestAURLWhoseUserinfoDoesNotParseIsShownWithoutIt(t *testing.T) {
	srv := encodingEchoServer(t)
	u := strings.TrimPrefix(srv.URL, "http://")
	r := runForLeaks(t, map[string]string{"main.hcl": reviewVariables + `
functional "f" {
  step "userinfo" {
    http { url = "http://alice:${var.pw2}@` + u + `/enc" }
  }
}
`}, reviewArgs()...)
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "results.jsonl", "its user information")
	secrets := map[string]string{"pw2": reviewPassword2}
	for _, part := range strings.FieldsFunc(reviewPassword2, func(r rune) bool { return strings.ContainsRune("/?#=", r) }) {
		if len(part) >= 4 {
			secrets["part "+part] = part
		}
	}
	r.expectNoLeak(t, secrets)
}

// plantedEnvFile2 holds what the first rules missed: a connection string
// with an empty user, a quoted value with spaces and a Slack webhook.
// The values are made up; none is a live credential.
const plantedEnvFile2 = `APP_NAME=demobank
REDIS_URL=redis://:R3disP4ssw0rd77@redis:6379/0
PGPASSWORD='Qu0ted Secret Value 9'
API_SECRET="Dbl Quoted Secr3t 8"
SLACK_WEBHOOK=https://hooks.slack.com/services/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
LOG_LEVEL=info
`

// Point 5: the exposure check's evidence of that .env masks each.
func TestExposedEnvFileEvidenceMasksQuotedAndUserlessSecrets(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/.env", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, plantedEnvFile2) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
security "s" {
  target = target.t
  scope {
    allow        = ["127.0.0.1"]
    max_requests = 20
    rate         = 100
  }
  check "exposure" { paths = ["/.env"] }
}
`})
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d (the .env is a finding)\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "results.jsonl", "REDIS_URL=redis://:")
	r.expectFound(t, "results.jsonl", "PGPASSWORD=")
	r.expectFound(t, "results.jsonl", "hooks.slack.com/services/")
	r.expectFound(t, "results.jsonl", "LOG_LEVEL=info")
	secrets := map[string]string{
		"redis":   "R3disP4ssw0rd77",
		"slack":   "T0PLANTED/B0PLANTED/Pl4ntedWebhookSecret0000",
		"slack-3": "Pl4ntedWebhookSecret0000",
	}
	for _, w := range []string{"Qu0ted Secret Value 9", "Dbl Quoted Secr3t 8"} {
		secrets[w] = w
		for _, part := range strings.Fields(w) {
			if len(part) >= 4 && strings.ContainsAny(part, "0123456789") { // not "Secret" nor "Value"
				secrets[w+": "+part] = part
			}
		}
	}
	r.expectNoLeak(t, secrets)
}

const reviewSession = "SESS10nCook1e99"

// sessionEchoServer hands out a session cookie at /login and, like a
// careless target, names the session in its bodies: /login and /whoami
// say "your session is …", /echo returns the X-C header JSON-escaped the
// PHP way and percent-encoded the Python way.
func sessionEchoServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: reviewSession, Path: "/", HttpOnly: true})
		io.WriteString(w, "welcome, your session is "+reviewSession+"\n")
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "your session is "+reviewSession+"\n")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get("X-C")
		fmt.Fprintf(w, "{\"c\":\"%s\"}\nnext=%s\n", jsonVariant(v, true, true, false), pyQuote(v, "/", false))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// Point 4: the session id a Set-Cookie handed out is redacted wherever the
// target names it: in the same response, in a later step's response that
// carries no cookie, and inside a captured Set-Cookie echoed back escaped.
func TestACookieValueEchoedByTheTargetIsRedacted(t *testing.T) {
	srv := sessionEchoServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
functional "f" {
  target = target.t
  step "login" {
    http { path = "/login" }
    capture { set_cookie = response.headers["Set-Cookie"] }
  }
  step "whoami" {
    http { path = "/whoami" }
    assert {
      condition     = response.body == "nothing"
      error_message = "The session differs."
    }
  }
}
functional "g" {
  target = target.t
  step "login" {
    http { path = "/login" }
    assert {
      condition     = response.body == "nothing"
      error_message = "The welcome differs."
    }
  }
}
functional "h" {
  target = target.t
  step "login" {
    http { path = "/login" }
    capture { c = response.headers["Set-Cookie"] }
  }
  step "echo" {
    http {
      path    = "/echo"
      headers = { X-C = capture.c }
    }
    assert {
      condition     = response.body == "nothing"
      error_message = "The echo differs."
    }
  }
}
`})
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "results.jsonl", "The session differs.")
	r.expectFound(t, "results.jsonl", "your session is ")
	r.expectFound(t, "report.json", `Path=`)
	r.expectNoLeak(t, map[string]string{"session": reviewSession})
}

// Point 2: values computed from a secret inside the request (upper() in a
// header, sha256() in a query, base64encode() in a path, upper() of a
// sensitive capture) are redacted like a sensitive local, in the request
// excerpt, the echoed body and the assert output.
func TestValuesComputedFromASecretInARequestAreRedacted(t *testing.T) {
	srv := echoServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": reviewVariables + hclTarget(srv) + `
functional "f" {
  target = target.t
  step "login" {
    http {
      method = "POST"
      path   = "/login"
    }
    capture { token = response.json.token }
  }
  step "derived" {
    http {
      path    = "/echo/${base64encode(var.pw2)}"
      query   = { h = sha256(var.pw) }
      headers = { X-Up = upper(var.pw), X-Tok = upper(capture.token), X-Plain = "visible" }
    }
    assert {
      condition     = response.json.headers["X-Up"][0] == "nothing"
      error_message = "The echo differs."
    }
  }
}
`}, reviewArgs()...)
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "report.json", "visible")
	r.expectFound(t, "results.jsonl", "The echo differs.")
	sum := sha256.Sum256([]byte(reviewPassword))
	r.expectNoLeak(t, map[string]string{
		"pw": reviewPassword, "pw2": reviewPassword2, "token": plantedToken,
		"upper":       strings.ToUpper(reviewPassword),
		"upper-token": strings.ToUpper(plantedToken),
		"sha256":      hex.EncodeToString(sum[:]),
	})
}
