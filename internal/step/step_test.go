package step

import (
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/testdb"
)

// stepsSuite is a minimal suite kind for these tests: a list of steps.
type stepsSuite struct {
	config.SuiteCommon
	steps []*Step
}

var stepsKind = config.SuiteKind{Type: "steps", Decode: func(c *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (config.Suite, hcl.Diagnostics) {
	content, diags := body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{BlockSchema}})
	s := &stepsSuite{SuiteCommon: *c}
	for _, b := range content.Blocks {
		st, d := Decode(b, dc)
		diags = append(diags, d...)
		s.steps = append(s.steps, st)
	}
	return s, diags
}}

func load(t *testing.T, src string, vars ...string) (*config.Config, hcl.Diagnostics) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "steps.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{stepsKind}, Vars: vars})
	return cfg, diags
}

// runAll loads src, whose single suite targets url, and runs its steps in
// order with captures flowing; it returns each step's outcome.
func runAll(t *testing.T, url, src string, vars ...string) []Outcome {
	t.Helper()
	cfg, diags := load(t, fmt.Sprintf("target \"t\" { url = %q }\n", url)+src, vars...)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	env, err := NewEnv(cfg, map[string]string{"t": url}, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	captures := map[string]cty.Value{}
	var outs []Outcome
	for _, st := range cfg.Suites[0].(*stepsSuite).steps {
		o := st.Run(context.Background(), env, captures)
		for k, v := range o.Captures {
			captures[k] = v
		}
		outs = append(outs, o)
	}
	return outs
}

func api(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var buf strings.Builder
		fmt.Fprint(&buf, r.Header.Get("Content-Type"), " ")
		b := make([]byte, 1024)
		n, _ := r.Body.Read(b)
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(string(b[:n]), `"password":"wonderland"`) {
			fmt.Fprint(w, `{"token":"tok-123","user":"alice"}`)
			return
		}
		w.WriteHeader(401)
		fmt.Fprint(w, `{"error":"wrong password"}`)
	})
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-123" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"currency":"USD","balance":12.5,"tags":["a","b"],"page":%q}`, r.URL.Query().Get("page"))
	})
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		fmt.Fprintf(w, "%s %s", r.Method, r.PostForm.Get("a"))
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/account", http.StatusFound)
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 20000))
	})
	mux.HandleFunc("GET /xss", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "<script>alert(1)</script>")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestCapturesFlowAndExpectationsPass(t *testing.T) {
	srv := api(t)
	outs := runAll(t, srv.URL, `
variable "password" {
  default   = "wonderland"
  sensitive = true
}
steps "s" {
  step "login" {
    http {
      method = "POST"
      path   = "/login"
      json   = { user = "alice", password = var.password }
    }
    expect {
      status        = 200
      headers       = { "Content-Type" = "application/json" }
      headers_match = { "content-type" = "^application/" }
      json          = { user = "alice" }
      json_exists   = ["token"]
      body_contains = ["token", "alice"]
      body_match    = "tok-[0-9]+"
      max_duration  = "5s"
    }
    capture { token = response.json.token }
  }
  step "account" {
    http {
      path    = "/account"
      query   = { page = "2" }
      headers = { Authorization = "Bearer ${capture.token}" }
    }
    expect {
      status = [200, 204]
      json   = { "tags.1" = "b", balance = 12.5, page = "2" }
    }
    assert {
      condition     = response.headers["Content-Type"] == "application/json" && response.json.balance > 10 && strlen(response.body) > 10 && response.status == 200
      error_message = "balance"
    }
  }
}
`)
	for i, o := range outs {
		if o.Status != result.Passed {
			t.Fatalf("step %d: %s: %s", i, o.Status, o.Message)
		}
	}
	ex := outs[0].Exchange
	if strings.Contains(ex.RequestBody, "wonderland") || !strings.Contains(ex.RequestBody, Redacted) {
		t.Errorf("the sensitive password is not redacted from the request body: %q", ex.RequestBody)
	}
	if got := outs[1].Exchange.RequestHeaders["Authorization"]; got != Redacted {
		t.Errorf("Authorization header kept as %q", got)
	}
}

func TestFailedExpectationsSayWhatWasExpectedAndFound(t *testing.T) {
	srv := api(t)
	tests := []struct {
		name, expect string
		want         []string
	}{
		{"status", `status = 200`, []string{"expect.status", "got status 401, want 200"}},
		{"status list", `status = [200, 201]`, []string{"got status 401, want one of 200, 201"}},
		{"json value", `json = { error = "locked" }`, []string{`expect.json["error"]`, `got "wrong password", want "locked"`}},
		{"json path missing", `json_exists = ["token"]`, []string{`nothing at "token"`}},
		{"header", `headers = { "Content-Type" = "text/html" }`, []string{`got "application/json", want "text/html"`}},
		{"body contains", `body_contains = "welcome"`, []string{`the body does not contain "welcome"; it begins:`, `{"error":"wrong password"}`}},
		{"body regex", `body_match = "^ok$"`, []string{"the body does not match ^ok$"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outs := runAll(t, srv.URL, fmt.Sprintf(`
steps "s" {
  step "login" {
    http {
      method = "POST"
      path   = "/login"
      json   = { user = "alice", password = "nope" }
    }
    expect { %s }
  }
}`, tt.expect))
			o := outs[0]
			if o.Status != result.Failed {
				t.Fatalf("status %s, want failed; message %q", o.Status, o.Message)
			}
			for _, w := range tt.want {
				if !strings.Contains(o.Message, w) {
					t.Errorf("message lacks %q:\n%s", w, o.Message)
				}
			}
			if !strings.Contains(o.Message, "steps.hcl:") {
				t.Errorf("message does not name the file and line:\n%s", o.Message)
			}
		})
	}
}

func TestFailedAssertShowsTheValuesItUsed(t *testing.T) {
	srv := api(t)
	outs := runAll(t, srv.URL, `
steps "s" {
  step "login" {
    http {
      method = "POST"
      path   = "/login"
      json   = { user = "alice", password = "wonderland" }
    }
    capture { token = response.json.token }
  }
  step "balance" {
    http {
      path    = "/account"
      headers = { Authorization = "Bearer ${capture.token}" }
    }
    assert {
      condition     = response.json.currency == "CNY"
      error_message = "balance must be served in CNY"
    }
  }
}`)
	o := outs[1]
	if o.Status != result.Failed {
		t.Fatalf("status %s: %s", o.Status, o.Message)
	}
	for _, w := range []string{"balance must be served in CNY", `response.json.currency == "CNY"`, `response.json.currency as "USD"`} {
		if !strings.Contains(o.Message, w) {
			t.Errorf("assert message lacks %q:\n%s", w, o.Message)
		}
	}
}

func TestRequestFeatures(t *testing.T) {
	srv := api(t)
	outs := runAll(t, srv.URL, `
steps "s" {
  step "form" {
    http {
      method = "post"
      path   = "form"
      form   = { a = "b c" }
    }
    expect { body_contains = "POST b c" }
  }
  step "no-follow" {
    http {
      path             = "/redirect"
      follow_redirects = false
    }
    expect { status = 302 }
  }
  step "follow" {
    http { path = "/redirect" }
    expect { status = 401 }
  }
  step "absolute" {
    http { url = "${target.t.url}/big" }
    expect { status = 200 }
  }
  step "port" {
    tcp { address = trimprefix(target.t.url, "http://") }
    assert {
      condition     = response.duration_ms >= 0
      error_message = "connect time"
    }
  }
}`)
	for i, o := range outs {
		if o.Status != result.Passed {
			t.Fatalf("step %d: %s", i, o.Message)
		}
	}
	if ex := outs[3].Exchange; !ex.Truncated || len(ex.ResponseBody) > 9000 || !strings.Contains(ex.ResponseBody, "20000 bytes in all") {
		t.Errorf("a 20000-byte body was kept as %d bytes (truncated=%v)", len(ex.ResponseBody), ex.Truncated)
	}
}

func TestConnectionRefusedIsAnError(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	outs := runAll(t, "http://"+addr, `
steps "s" {
  step "down" {
    http {
      path    = "/"
      timeout = "2s"
    }
  }
}`)
	if outs[0].Status != result.Errored || !strings.Contains(outs[0].Message, "refused") {
		t.Fatalf("got %s %q, want an error saying the connection was refused", outs[0].Status, outs[0].Message)
	}
}

func TestEventuallyRetriesUntilTheChecksPass(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 4 {
			w.WriteHeader(503)
			return
		}
		fmt.Fprint(w, "ready")
	}))
	defer srv.Close()
	outs := runAll(t, srv.URL, `
steps "s" {
  step "wait" {
    http { path = "/" }
    eventually {
      within = "10s"
      every  = "20ms"
    }
    expect { status = 200 }
  }
}`)
	if outs[0].Status != result.Passed || outs[0].Attempts != 4 {
		t.Fatalf("status %s after %d attempts, want passed after 4: %s", outs[0].Status, outs[0].Attempts, outs[0].Message)
	}
}

func TestEventuallyGivesUpWithTheLastAttempt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	outs := runAll(t, srv.URL, `
steps "s" {
  step "wait" {
    http { path = "/" }
    eventually {
      within = "300ms"
      every  = "50ms"
    }
    expect { status = 200 }
  }
}`)
	o := outs[0]
	if o.Status != result.Failed || o.Attempts < 2 {
		t.Fatalf("status %s after %d attempts", o.Status, o.Attempts)
	}
	for _, w := range []string{"eventually (within 300ms, every 50ms) gave up after", "the last attempt:", "got status 503, want 200"} {
		if !strings.Contains(o.Message, w) {
			t.Errorf("message lacks %q:\n%s", w, o.Message)
		}
	}
}

func TestTLSWithACAFile(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secure") }))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644)
	src := fmt.Sprintf(`
target "t" {
  url = %q
  tls { ca_file = %q }
}
target "untrusted" { url = %q }
steps "s" {
  step "trusted" {
    http { path = "/" }
    expect { body_contains = "secure" }
  }
}`, srv.URL, ca, srv.URL)
	cfg, diags := load(t, src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	env, err := NewEnv(cfg, map[string]string{"t": srv.URL}, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	if o := cfg.Suites[0].(*stepsSuite).steps[0].Run(context.Background(), env, map[string]cty.Value{}); o.Status != result.Passed {
		t.Fatalf("with the CA file: %s", o.Message)
	}
	env2, _ := NewEnv(cfg, map[string]string{"untrusted": srv.URL}, "untrusted")
	defer env2.Close()
	o := cfg.Suites[0].(*stepsSuite).steps[0].Run(context.Background(), env2, map[string]cty.Value{})
	if o.Status != result.Errored || !strings.Contains(o.Message, "certificate") {
		t.Fatalf("without the CA: %s %q, want a certificate error", o.Status, o.Message)
	}
}

func TestBadStepsAreDiagnosed(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"two requests", `http { path = "/" }
    tcp { address = "127.0.0.1:1" }`, "exactly one of an http, sql or tcp block; it has 2"},
		{"unknown expect attribute", `http { path = "/" }
    expect { statuss = 200 }`, `"statuss" is not expected here`},
		{"response in a request", `http { path = response.body }`, `"response" is not known here`},
		{"bad eventually", `http { path = "/" }
    eventually { within = "soon" }`, "must be a duration"},
		{"row_count without sql", `http { path = "/" }
    expect { row_count = 1 }`, "row_count checks the rows of a sql step"},
		{"bad driver", `sql {
      driver = "oracle"
      dsn    = "x"
      query  = "select 1"
    }`, `must be one of "postgres" or "mysql"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := load(t, "steps \"s\" {\n  step \"x\" {\n    "+tt.body+"\n  }\n}\n")
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.want) || !strings.Contains(diags.Error(), "steps.hcl:") {
				t.Fatalf("diagnostics %q, want one containing %q with the file and line", diags.Error(), tt.want)
			}
		})
	}
}

func TestRedactor(t *testing.T) {
	r := NewRedactor([]string{"s3cret"})
	for in, want := range map[string]string{
		"token s3cret here":              "token [REDACTED] here",
		"postgres://app:pa55@db:5432/x":  "postgres://app:[REDACTED]@db:5432/x",
		"app:pa55@tcp(127.0.0.1:3306)/x": "app:[REDACTED]@tcp(127.0.0.1:3306)/x",
		"host=db password=pa55 user=app": "host=db password=[REDACTED] user=app",
	} {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	h := r.Headers(http.Header{"Cookie": {"a=b"}, "X-Key": {"s3cret"}})
	if h["Cookie"] != Redacted || h["X-Key"] != Redacted {
		t.Errorf("Headers = %v", h)
	}
}

func sqlSteps(driver, dsn, table, placeholder string) string {
	return fmt.Sprintf(`
variable "dsn" {
  default   = %q
  sensitive = true
}
steps "s" {
  step "create" {
    sql {
      driver = %q
      dsn    = var.dsn
      query  = "CREATE TABLE %s (id INTEGER PRIMARY KEY, owner VARCHAR(20), balance DECIMAL(12,2))"
    }
  }
  step "insert" {
    sql {
      driver = %q
      dsn    = var.dsn
      query  = "INSERT INTO %s VALUES (1, 'alice', 1000.50), (2, 'bob', 20)"
    }
  }
  step "select" {
    sql {
      driver = %q
      dsn    = var.dsn
      query  = "SELECT id, owner, balance FROM %s WHERE id = %s"
      args   = [1]
    }
    expect { row_count = 1 }
    assert {
      condition     = response.rows[0].owner == "alice" && tonumber(response.rows[0].balance) == 1000.5
      error_message = "alice's row"
    }
    capture { owner = response.rows[0].owner }
  }
  step "wrong" {
    sql {
      driver = %q
      dsn    = var.dsn
      query  = "SELECT id FROM %s"
    }
    expect { row_count = 5 }
  }
}`, dsn, driver, table, driver, table, driver, table, placeholder, driver, table)
}

func TestSQLStepsAgainstRealDatabases(t *testing.T) {
	for _, db := range []struct {
		driver, sqlDriver, placeholder string
		dsn                            func(testing.TB) string
	}{
		{"postgres", "pgx", "$1", testdb.Postgres},
		{"mysql", "mysql", "?", testdb.MySQL},
	} {
		t.Run(db.driver, func(t *testing.T) {
			dsn := db.dsn(t)
			table := testdb.Table(t, db.sqlDriver, dsn, "step_accounts")
			outs := runAll(t, "http://127.0.0.1:1", sqlSteps(db.driver, dsn, table, db.placeholder))
			for i, o := range outs[:3] {
				if o.Status != result.Passed {
					t.Fatalf("step %d: %s %s", i, o.Status, o.Message)
				}
			}
			if got := outs[2].Captures["owner"]; got.AsString() != "alice" {
				t.Errorf("captured owner %#v", got)
			}
			if o := outs[3]; o.Status != result.Failed || !strings.Contains(o.Message, "got 2 rows, want 5") {
				t.Errorf("row_count failure: %s %q", o.Status, o.Message)
			}
			if q := outs[2].Exchange.Query; !strings.Contains(q, "SELECT id, owner") {
				t.Errorf("query excerpt %q", q)
			}
		})
	}
}

// A load may have more requests in flight than net/http keeps idle
// connections by default (100 over all hosts); their connections must stay
// open for the next requests rather than be closed and dialled again.
func TestConnectionsAreReusedAfterABurst(t *testing.T) {
	const burst = 150
	// Each burst's requests are held until all of them arrived, so that
	// they are in flight at once.
	release := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var arrived, opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := arrived.Add(1); n <= 2*burst {
			<-release[(n-1)/burst]
		}
		w.Write([]byte("ok"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	cfg, diags := load(t, fmt.Sprintf("target \"t\" { url = %q }\n", srv.URL)+`
steps "s" {
  target = target.t
  step "hold" {
    http { path = "/hold" }
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	env, err := NewEnv(cfg, map[string]string{"t": srv.URL}, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	st := cfg.Suites[0].(*stepsSuite).steps[0]
	run := func(n int) {
		done := make(chan Outcome, burst)
		for i := 0; i < burst; i++ {
			go func() { done <- st.Run(context.Background(), env, nil) }()
		}
		for arrived.Load() < int64(n*burst) {
			time.Sleep(time.Millisecond)
		}
		close(release[n-1])
		for i := 0; i < burst; i++ {
			if o := <-done; o.Status != result.Passed {
				t.Fatalf("request failed: %s", o.Message)
			}
		}
	}
	run(1)
	first := opened.Load()
	// The same number again, all at once: every one finds an idle connection.
	run(2)
	if again := opened.Load() - first; again > burst/10 {
		t.Fatalf("%d connections for the first burst of %d, then %d new ones for the second (want them reused)", first, burst, again)
	}
}

// A capture of response.status is taken without evaluating HCL (the
// commonest capture under load): it must be what the expression gives,
// beside captures that read the status another way, for codes of each
// class, in a step that reads only the status and in one that reads more.
func TestStatusCaptureIsTheExpressionsValue(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var code int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/"), &code)
		w.WriteHeader(code)
	}))
	defer srv.Close()
	var src strings.Builder
	codes := []int{200, 201, 204, 302, 404, 418, 503, 599}
	for i, code := range codes {
		more := ""
		if i%2 == 1 {
			more = "\n    h = response.headers"
		}
		fmt.Fprintf(&src, "steps \"s%d\" {\n  step \"get\" {\n    http {\n      path = \"/%d\"\n      follow_redirects = false\n    }\n    expect { status = %d }\n"+
			"    capture {\n      a = response.status\n      b = response[\"status\"]\n      c = response.status + 0%s\n    }\n  }\n}\n", i, code, code, more)
	}
	cfg, diags := load(t, fmt.Sprintf("target \"t\" { url = %q }\n", srv.URL)+src.String())
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	env, err := NewEnv(cfg, map[string]string{"t": srv.URL}, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	env.Lean = true
	for i, s := range cfg.Suites {
		st := s.(*stepsSuite).steps[0]
		if !isStatusTraversal(st.Captures[0].Expr) || isStatusTraversal(st.Captures[1].Expr) || isStatusTraversal(st.Captures[2].Expr) {
			t.Fatal("only the first capture is the plain response.status")
		}
		o := st.Run(context.Background(), env, map[string]cty.Value{})
		if o.Status != result.Passed {
			t.Fatalf("status %d: %s", codes[i], o.Message)
		}
		want := cty.NumberIntVal(int64(codes[i]))
		for _, k := range []string{"a", "b", "c"} {
			if v := o.Captures[k]; !v.RawEquals(want) {
				t.Errorf("status %d: capture %s = %#v, want %#v", codes[i], k, v, want)
			}
		}
	}
}
