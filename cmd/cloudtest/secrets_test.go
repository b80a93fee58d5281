package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/cloudtest/cloudtest/internal/testdb"
)

// The secrets the tests plant. The password has the characters each
// encoding changes: & < > " \ for JSON and HTML, space, @ / : ? # % + for
// URLs and DSNs.
const (
	plantedPassword = `s3cr&t<p@ss/w:rd?#"q\ 10%+x`
	plantedToken    = "tok-6c1f0e9b2d7a4e58"
	plantedCookie   = "sid-93ab77d0c2e145f6"
	plantedSession  = "sess-4f2d9a0c71e3b8d6"
)

// echoServer answers like a careless target: /echo returns the request
// (method, URL, headers, body) as JSON and sets a session cookie, /login
// hands out a token and a session id, /.env is an exposed environment file.
func echoServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/echo/", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		http.SetCookie(w, &http.Cookie{Name: "session", Value: plantedCookie, HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "url": r.RequestURI, "headers": r.Header, "body": string(body)})
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: plantedCookie, HttpOnly: true})
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"token": plantedToken, "session_id": plantedSession})
	})
	mux.HandleFunc("/.env", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, plantedEnvFile)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func hclTarget(srv *httptest.Server) string {
	return "target \"t\" { url = \"" + srv.URL + "\" }\n"
}

const passwordVariable = `
variable "pw" {
  sensitive = true
}
`

func pwArgs() []string { return []string{"--var", "pw=" + plantedPassword} }

// Point 1: a sensitive variable in an error_message is the name of the
// check (junit.xml's testcase, the report's check list, the terminal).
func TestASensitiveVariableInAnErrorMessageIsRedacted(t *testing.T) {
	srv := echoServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": passwordVariable + hclTarget(srv) + `
functional "f" {
  target = target.t
  step "s" {
    http { path = "/echo/x" }
    assert {
      condition     = response.status == 500
      error_message = "The password ${var.pw} was refused."
    }
  }
}
`}, pwArgs()...)
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d (the assert fails)\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "junit.xml", "was refused.")
	r.expectNoLeak(t, map[string]string{"password": plantedPassword})
}

// Point 2: a sensitive value is sent in a JSON body, a query, a form, a
// path, base64 in a header and inside Basic credentials; the target echoes
// each back, and a failed assert prints the values it read.
func TestSensitiveValuesAreRedactedInEveryEncodingTheyAreSentIn(t *testing.T) {
	srv := echoServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": passwordVariable + hclTarget(srv) + `
locals {
  basic = base64encode("alice:${var.pw}")
}
functional "json" {
  target = target.t
  step "json" {
    http {
      method = "POST"
      path   = "/echo/json"
      json   = { user = "alice", password = var.pw }
    }
    assert {
      condition     = response.json.body == "nothing"
      error_message = "The echo differs."
    }
  }
}
functional "query" {
  target = target.t
  step "query" {
    http {
      path  = "/echo/query"
      query = { key = var.pw }
    }
    assert {
      condition     = response.json.url == "nothing"
      error_message = "The echo differs."
    }
  }
}
functional "form" {
  target = target.t
  step "form" {
    http {
      method = "POST"
      path   = "/echo/form"
      form   = { password = var.pw }
    }
    expect { body_contains = "nothing" }
  }
}
functional "path" {
  target = target.t
  step "path" {
    http { path = "/echo/${urlencode(var.pw)}" }
    expect { json = { url = "nothing" } }
  }
}
functional "header" {
  target = target.t
  step "header" {
    http {
      path    = "/echo/header"
      headers = { X-Api-Key = base64encode(var.pw) }
    }
    assert {
      condition     = response.json.headers["X-Api-Key"][0] == "nothing"
      error_message = "The echo differs."
    }
  }
}
functional "basic" {
  target = target.t
  step "basic" {
    http {
      path    = "/echo/basic"
      headers = { Authorization = "Basic ${local.basic}" }
    }
    expect { body_contains = "nothing" }
  }
}
`}, pwArgs()...)
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "results.jsonl", "The echo differs.")
	r.expectNoLeak(t, map[string]string{
		"password":    plantedPassword,
		"basic":       base64.StdEncoding.EncodeToString([]byte("alice:" + plantedPassword)),
		"basic-inner": "alice:" + plantedPassword,
	})
}

// Point 2, DSNs: a password with @ / : ? # in a PostgreSQL or MySQL DSN,
// URL or key=value form, reaches the database whole (the server refuses
// it as a wrong password, rather than the driver looking up part of it as
// a host name) and appears nowhere.
func TestAPasswordInADSNIsPassedWholeAndNeverShown(t *testing.T) {
	testdb.Postgres(t)
	testdb.MySQL(t)
	r := runForLeaks(t, map[string]string{"main.hcl": passwordVariable + `
functional "dsn" {
  step "pg-url" {
    sql {
      driver = "postgres"
      dsn    = "postgres://cloudtest:${var.pw}@127.0.0.1:5432/cloudtest?sslmode=disable&connect_timeout=5"
      query  = "SELECT 1"
    }
  }
}
functional "dsn-kv" {
  step "pg-kv" {
    sql {
      driver = "postgres"
      dsn    = "host=127.0.0.1 port=5432 user=cloudtest password=${var.pw} dbname=cloudtest sslmode=disable connect_timeout=5"
      query  = "SELECT 1"
    }
  }
}
functional "dsn-mysql" {
  step "mysql" {
    sql {
      driver = "mysql"
      dsn    = "cloudtest:${var.pw}@tcp(127.0.0.1:3306)/cloudtest?timeout=5s"
      query  = "SELECT 1"
    }
  }
}
functional "dsn-mysql-url" {
  step "mysql-url" {
    sql {
      driver = "mysql"
      dsn    = "mysql://cloudtest:${var.pw}@127.0.0.1:3306/cloudtest?timeout=5s"
      query  = "SELECT 1"
    }
  }
}
`}, pwArgs()...)
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	// Each step reached its server with the password whole: the server
	// refused it as a wrong password for the user.
	results, _ := os.ReadFile(filepath.Join(r.dir, "results.jsonl"))
	refused := map[string]string{
		"pg-url": `password authentication failed for user "cloudtest"`, "pg-kv": `password authentication failed for user "cloudtest"`,
		"mysql": "Access denied for user 'cloudtest'", "mysql-url": "Access denied for user 'cloudtest'",
	}
	for _, line := range strings.Split(strings.TrimSpace(string(results)), "\n") {
		var res struct{ Level, Step, Message string }
		if json.Unmarshal([]byte(line), &res) != nil || res.Level != "step" {
			continue
		}
		if want, ok := refused[res.Step]; ok {
			if !strings.Contains(res.Message, want) {
				t.Errorf("step %q: %q, want the server's %q", res.Step, res.Message, want)
			}
			delete(refused, res.Step)
		}
	}
	for st := range refused {
		t.Errorf("no result for step %q", st)
	}
	// A part of the password is a leak too (a parser that stopped at the
	// @ printed the rest).
	secrets := map[string]string{"password": plantedPassword}
	for i := 0; i+8 <= len(plantedPassword); i++ {
		secrets[fmt.Sprintf("password[%d:%d]", i, i+8)] = plantedPassword[i : i+8]
	}
	r.expectNoLeak(t, secrets)
}

// Points 3 and 4: a token captured at login (sensitive by its name), a
// session id marked with sensitive(), and a Set-Cookie read by an assert;
// the target echoes the credentials back.
func TestCapturedCredentialsAndCookiesAreRedacted(t *testing.T) {
	srv := echoServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
functional "f" {
  target = target.t
  step "login" {
    http {
      method = "POST"
      path   = "/login"
    }
    capture {
      token = response.json.token
      sid   = sensitive(response.json.session_id)
    }
  }
  step "use" {
    http {
      path    = "/echo/use"
      headers = { Authorization = "Bearer ${capture.token}", X-Session = capture.sid }
      query   = { session = capture.sid }
    }
    assert {
      condition     = response.headers["Set-Cookie"] == "nothing"
      error_message = "The cookie differs."
    }
    expect {
      headers       = { "Set-Cookie" = "nothing" }
      headers_match = { "set-cookie" = "^nothing$" }
    }
    assert {
      condition     = response.json.headers["X-Session"][0] == "nothing" || capture.token == "nothing"
      error_message = "The echo differs."
    }
  }
}
`})
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "results.jsonl", "The cookie differs.")
	r.expectNoLeak(t, map[string]string{"token": plantedToken, "cookie": plantedCookie, "session": plantedSession})
}

// Point 3: load/*.bin of the vegeta fast path (a static request with the
// password in its query, answered with a Set-Cookie and a body) holds no
// secret, and vegeta's decoder still reads every result.
func TestLoadResultsHoldNoSecretAndVegetaReadsThem(t *testing.T) {
	srv := echoServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": passwordVariable + hclTarget(srv) + `
performance "p" {
  target = target.t
  load {
    rate     = 20
    duration = "1s"
  }
  journey "j" {
    step "s" {
      http {
        path    = "/echo/load"
        query   = { key = var.pw }
        headers = { Authorization = "Basic ${base64encode("alice:${var.pw}")}" }
      }
      expect { status = 200 }
    }
  }
}
# The journeys engine: a captured token sent in a query to a port where
# nothing listens, so that every error names the URL.
performance "q" {
  target = target.t
  load {
    rate     = 10
    duration = "1s"
  }
  journey "j" {
    step "login" {
      http {
        method = "POST"
        path   = "/login"
      }
      capture { token = response.json.token }
    }
    step "use" {
      http { url = "http://127.0.0.1:1/use?t=${capture.token}&k=${urlencode(var.pw)}" }
    }
  }
}
`}, pwArgs()...)
	if errs, _ := os.ReadFile(filepath.Join(r.dir, "load", "q.bin")); !bytes.Contains(errs, []byte("connection refused")) {
		t.Errorf("load/q.bin has no connection error, so this test shows nothing about them\n%s", r.terminal)
	}
	f, err := os.Open(filepath.Join(r.dir, "load", "p.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// What `vegeta report` and `vegeta encode` do with the file.
	dec := vegeta.NewDecoder(f)
	var metrics vegeta.Metrics
	var encoded bytes.Buffer
	enc := vegeta.NewJSONEncoder(&encoded)
	n := 0
	for {
		var res vegeta.Result
		if err := dec.Decode(&res); err != nil {
			if err != io.EOF {
				t.Fatalf("vegeta cannot decode result %d: %v", n, err)
			}
			break
		}
		n++
		metrics.Add(&res)
		if err := enc.Encode(&res); err != nil {
			t.Fatalf("vegeta encode: %v", err)
		}
		if res.Code != 200 || res.Latency <= 0 || res.Timestamp.IsZero() || res.Method != "GET" || !strings.Contains(res.URL, "/echo/load") {
			t.Errorf("result %d lacks what vegeta report needs: %+v", n, res)
		}
		if (len(res.Body) > 0 || res.Headers.Get("Set-Cookie") != "") && n == 1 {
			t.Errorf("result %d keeps the body or the Set-Cookie header: %q %v", n, res.Body, res.Headers)
		}
	}
	metrics.Close()
	if n < 15 || metrics.Requests != uint64(n) || metrics.StatusCodes["200"] != n || metrics.Latencies.P99 <= 0 {
		t.Errorf("vegeta decoded %d results, want about 20; report: %d requests, codes %v, p99 %s", n, metrics.Requests, metrics.StatusCodes, metrics.Latencies.P99)
	}
	if encoded.Len() == 0 || strings.Contains(encoded.String(), plantedCookie) {
		t.Errorf("vegeta encode gave %d bytes (with the cookie: %v)", encoded.Len(), strings.Contains(encoded.String(), plantedCookie))
	}
	r.expectNoLeak(t, map[string]string{
		"password": plantedPassword,
		"cookie":   plantedCookie,
		"token":    plantedToken,
		"basic":    base64.StdEncoding.EncodeToString([]byte("alice:" + plantedPassword)),
	})
}

// plantedEnvFile is an exposed .env with the kinds of secret gitleaks
// finds. The values are made up for this test; none is a live credential.
const plantedEnvFile = `APP_NAME=demobank
DB_PASSWORD=Pl4nted-db-pass
AWS_ACCESS_KEY_ID=AKIAQ3EGRIXRP4PLANTD
AWS_SECRET_ACCESS_KEY=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
JWT_SECRET=plantedjwtsigningsecret0123456789
STRIPE_KEY=sk_live_51PlantedStripeKey00000000000
GITHUB_TOKEN=ghp_PlantedGithubToken000000000000000000
DATABASE_URL=postgres://app:Pl4ntedUrlPass@db.internal:5432/bank
SESSION=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ
-----BEGIN RSA PRIVATE KEY-----
MIIEowIBAAKCAQEAplantedprivatekeymaterial0123456789abcdefghij
-----END RSA PRIVATE KEY-----
LOG_LEVEL=info
`

// Point 5: the exposure check finds the .env and its evidence masks every
// secret in it, keeping the names (and harmless values) a reader needs.
func TestExposedEnvFileEvidenceMasksSecrets(t *testing.T) {
	srv := echoServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
security "s" {
  target = target.t
  scope {
    allow        = ["127.0.0.1"]
    max_requests = 20
    rate         = 100
  }
  check "exposure" { paths = ["/.env"] }
  # /login hands anyone a token: the default-credentials finding's
  # evidence is that answer.
  check "default_credentials" {
    step "login" {
      http {
        method = "POST"
        path   = "/login"
        json   = { user = each.value.user, password = each.value.password }
      }
    }
  }
}
`})
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d (the .env is a finding)\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "results.jsonl", "secrets-file-exposed")
	r.expectFound(t, "results.jsonl", "AWS_SECRET_ACCESS_KEY=")
	r.expectFound(t, "results.jsonl", "LOG_LEVEL=info")
	r.expectFound(t, "results.jsonl", "default_credentials/accepted")
	r.expectNoLeak(t, map[string]string{
		"db-password": "Pl4nted-db-pass",
		"aws-id":      "AKIAQ3EGRIXRP4PLANTD",
		"aws-secret":  "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",
		"jwt-secret":  "plantedjwtsigningsecret0123456789",
		"stripe":      "sk_live_51PlantedStripeKey00000000000",
		"github":      "ghp_PlantedGithubToken000000000000000000",
		"url-pass":    "Pl4ntedUrlPass",
		"jwt":         "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwbGFudGVkIn0.c2lnbmF0dXJlLXBsYW50ZWQ",
		"private-key": "MIIEowIBAAKCAQEAplantedprivatekeymaterial0123456789abcdefghij",
		"token":       plantedToken,
		"session":     plantedSession,
	})
}

// The demo bank's tokens (base64 of "user|expiry", then a signature) are
// captured at every login of the example and handed out to the default
// credentials of its insecure twin: none reaches an output. The test looks
// for the beginning every token of alice, bob and admin has.
func TestTheDemoBankTokensStayOutOfTheOutputs(t *testing.T) {
	r := runDirForLeaks(t, "../../examples/demobank", "--suite", "login-and-balance", "--suite", "transfers", "--suite", "mobile-edge-planted")
	r.expectFound(t, "results.jsonl", "default_credentials/accepted")
	r.expectFound(t, "results.jsonl", `"suite":"transfers"`)
	r.expectNoLeak(t, map[string]string{
		"alice's token": base64.RawURLEncoding.EncodeToString([]byte("alice|")),
		"bob's token":   "Ym9ifD", // "bob|" and the first digit of the expiry
		"admin's token": base64.RawURLEncoding.EncodeToString([]byte("admin|")),
	})
}
