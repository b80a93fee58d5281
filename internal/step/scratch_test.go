package step

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/result"
)

// scratchSteps exercise what an attempt's Scratch holds: the evaluation
// context (captures, vars, param and response read by requests, checks,
// assertions and captures), the redactor (sensitive captures and learned
// credentials in failure messages) and the captures' map, through passes,
// failures, errors, polling and a template.
const scratchSteps = `
step_template "balance" {
  param "who" {}
  http {
    path    = "/account"
    headers = { Authorization = "Bearer ${capture.token}", X-Who = param.who }
  }
  capture { currency = response.json.currency }
}
steps "s" {
  step "early" {
    http { path = "/missing" }
    expect { status = 200 }
  }
  step "login" {
    http {
      method = "POST"
      path   = "/login"
      json   = { user = var.user }
    }
    expect { status = 200 }
    capture {
      token = sensitive(response.json.token)
      user  = response.json.user
      code  = response.status
    }
  }
  step "show" {
    http { path = "/session" }
    assert {
      condition     = response.status == 201
      error_message = "the token is ${capture.token}"
    }
  }
  step "balance" {
    use  = step_template.balance
    with = { who = capture.user }
  }
  step "wrong-currency" {
    http {
      path    = "/account"
      headers = { Authorization = "Bearer ${capture.token}" }
    }
    expect { headers = { X-Token = capture.token } }
    assert {
      condition     = response.json.currency == "CNY"
      error_message = "${capture.user} (token ${capture.token}) is served in ${capture.currency}"
    }
  }
  step "not-found" {
    http { path = "/missing/${capture.code}" }
    expect { status = 200 }
  }
  step "flaky" {
    http { path = "/flaky" }
    expect { status = 200 }
    eventually {
      within = "5s"
      every  = "10ms"
    }
    capture { attempt = response.json.n }
  }
  step "bad-capture" {
    http {
      path    = "/account"
      headers = { Authorization = "Bearer ${capture.token}" }
    }
    capture { nothing = response.json.no_such_field }
  }
  step "session" {
    http { path = "/session" }
    assert {
      condition     = response.status == 500
      error_message = "session ${response.headers["Set-Cookie"]} for ${capture.user}"
    }
  }
  step "last" {
    http {
      path    = "/account"
      headers = { Authorization = "Bearer ${capture.token}" }
    }
    expect { status = 200 }
    capture { again = "${capture.currency}/${capture.attempt}" }
  }
}`

// scratchServer is the API of scratchSteps; reset starts /flaky's count
// again.
func scratchServer(t *testing.T) (srv *httptest.Server, reset func()) {
	var mu sync.Mutex
	flaky := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"token":"tok-7c1f9a","user":"alice"}`)
	})
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-7c1f9a" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Token", "tok-7c1f9a")
		fmt.Fprintf(w, `{"currency":"USD","who":%q}`, r.Header.Get("X-Who"))
	})
	mux.HandleFunc("GET /flaky", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		flaky++
		n := flaky
		mu.Unlock()
		if n%3 != 0 {
			w.WriteHeader(503)
			return
		}
		fmt.Fprintf(w, `{"n":%d}`, n)
	})
	mux.HandleFunc("GET /session", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "sid", Value: "sess-5be2d0e4c1"})
		w.WriteHeader(200)
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, func() { mu.Lock(); flaky = 0; mu.Unlock() }
}

// A worker's Scratch (the evaluation context, the base redactor and the
// captures' map reused from one attempt to the next) changes nothing a
// step gives: the same steps, run one after the other as a journey runs
// them, give the same outcomes with a Scratch as without, and a secret
// one step learned stays hidden in the next one's messages.
func TestAScratchChangesNoOutcome(t *testing.T) {
	srv, reset := scratchServer(t)
	cfg, diags := load(t, fmt.Sprintf("target \"t\" { url = %q }\nvariable \"user\" { default = \"alice\" }\n", srv.URL)+scratchSteps)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	steps := cfg.Suites[0].(*stepsSuite).steps
	for _, lean := range []bool{true, false} {
		var runs [2][]Outcome
		for i, withScratch := range []bool{false, true} {
			env, err := NewEnv(cfg, map[string]string{"t": srv.URL}, "t")
			if err != nil {
				t.Fatal(err)
			}
			env.Lean = lean
			env.Jar = NewCookieJar()
			if withScratch {
				env.Scratch = new(Scratch)
			}
			reset()
			captures := map[string]cty.Value{}
			// Twice over, as a worker runs one journey after another.
			for range 2 {
				clear(captures)
				for _, st := range steps {
					o := st.Run(context.Background(), env, captures)
					for k, v := range o.Captures {
						captures[k] = v
					}
					o.Captures = maps.Clone(o.Captures) // with a Scratch, the next Run reuses the map
					runs[i] = append(runs[i], o)
				}
			}
			env.Close()
		}
		plain, scratch := runs[0], runs[1]
		if len(plain) != 2*len(steps) || len(scratch) != len(plain) {
			t.Fatalf("lean %v: %d and %d outcomes", lean, len(plain), len(scratch))
		}
		statuses := map[result.Status]int{}
		for i := range plain {
			p, s := plain[i], scratch[i]
			name := fmt.Sprintf("lean %v, step %s (run %d)", lean, steps[i%len(steps)].Name, i/len(steps)+1)
			statuses[p.Status]++
			if p.Status != s.Status || p.Message != s.Message || p.First != s.First || p.Code != s.Code || p.Attempts != s.Attempts {
				t.Errorf("%s: without a Scratch %s %d ×%d %q, with one %s %d ×%d %q", name, p.Status, p.Code, p.Attempts, p.Message, s.Status, s.Code, s.Attempts, s.Message)
			}
			if !reflect.DeepEqual(p.Checks, s.Checks) {
				t.Errorf("%s: checks differ:\n%#v\n%#v", name, p.Checks, s.Checks)
			}
			if pe, se := undated(p.Exchange), undated(s.Exchange); !reflect.DeepEqual(pe, se) {
				t.Errorf("%s: excerpts differ:\n%#v\n%#v", name, pe, se)
			}
			if !sameCaptures(p.Captures, s.Captures) {
				t.Errorf("%s: captures %#v and %#v", name, p.Captures, s.Captures)
			}
			shown, err := json.Marshal(struct {
				Message, First string
				Checks         []result.Check
				Exchange       *result.Exchange
			}{s.Message, s.First, s.Checks, s.Exchange})
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{"tok-7c1f9a", "sess-5be2d0e4c1"} {
				if strings.Contains(string(shown), secret) {
					t.Errorf("%s: %s shown:\n%s", name, secret, shown)
				}
			}
		}
		// The steps pass, fail and err as they were written to.
		if statuses[result.Passed] != 8 || statuses[result.Failed] != 10 || statuses[result.Errored] != 2 {
			t.Errorf("lean %v: outcomes %v, want 8 passed, 10 failed, 2 errored", lean, statuses)
		}
		if !strings.Contains(scratch[4].Message, "alice (token "+Redacted+") is served in USD") {
			t.Errorf("lean %v: the assertion's message is %q", lean, scratch[4].Message)
		}
		if v := scratch[len(steps)-1].Captures["again"]; v.RawEquals(cty.NilVal) || v.AsString() != "USD/3" {
			t.Errorf("lean %v: the last step captured %#v, want USD/3 from the captures before it (the third call of /flaky)", lean, v)
		}
	}
}

// undated is an excerpt without its response's Date, which two runs of a
// step a second apart do not share.
func undated(x *result.Exchange) *result.Exchange {
	if x == nil {
		return nil
	}
	c := *x
	c.ResponseHeaders = maps.Clone(x.ResponseHeaders)
	delete(c.ResponseHeaders, "Date")
	return &c
}

func sameCaptures(a, b map[string]cty.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !v.RawEquals(w) {
			return false
		}
	}
	return true
}

// A Scratch copied after use redacts with its own redactor, not the
// original's (built before the token was captured), and a caller that hands
// a Run's captures back as the next Run's keeps them: in both cases the
// sensitive token stays hidden in a later step's message.
func TestAScratchReusedCarelesslyLeaksNothing(t *testing.T) {
	srv, _ := scratchServer(t)
	cfg, diags := load(t, fmt.Sprintf("target \"t\" { url = %q }\nvariable \"user\" { default = \"alice\" }\n", srv.URL)+scratchSteps+`
steps "alias" {
  step "login" {
    http {
      method = "POST"
      path   = "/login"
    }
    capture { token = sensitive(response.json.token) }
  }
  step "use" {
    http { path = "/session" }
    capture { x = capture.token * 2 }
  }
}`)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	byName := map[string]*Step{}
	for _, s := range cfg.Suites[0].(*stepsSuite).steps {
		byName[s.Name] = s
	}
	newEnv := func() *Env {
		env, err := NewEnv(cfg, map[string]string{"t": srv.URL}, "t")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { env.Close() })
		env.Lean = true
		return env
	}

	t.Run("copied", func(t *testing.T) {
		env := newEnv()
		first := new(Scratch)
		env.Scratch = first
		captures := map[string]cty.Value{}
		if o := byName["early"].Run(context.Background(), env, captures); o.Status != result.Failed {
			t.Fatalf("early: %s %s", o.Status, o.Message) // its message built the first redactor
		}
		// A copy by value, as a struct that holds a Scratch may be copied
		// (go vet flags it; reflection does not).
		copied := new(Scratch)
		reflect.ValueOf(copied).Elem().Set(reflect.ValueOf(first).Elem())
		env.Scratch = copied
		for _, name := range []string{"login", "show"} {
			o := byName[name].Run(context.Background(), env, captures)
			for k, v := range o.Captures {
				captures[k] = v
			}
			if name == "show" && (o.Status != result.Failed || !strings.Contains(o.Message, "the token is "+Redacted)) {
				t.Errorf("show: %s %q, want the token redacted", o.Status, o.Message)
			}
			if strings.Contains(o.Message, "tok-7c1f9a") {
				t.Errorf("%s shows the token:\n%s", name, o.Message)
			}
		}
	})

	t.Run("captures handed back", func(t *testing.T) {
		steps := cfg.Suites[1].(*stepsSuite).steps
		var msgs [2]string
		for i, withScratch := range []bool{false, true} {
			env := newEnv()
			if withScratch {
				env.Scratch = new(Scratch)
			}
			captures := map[string]cty.Value{}
			for _, st := range steps {
				o := st.Run(context.Background(), env, captures)
				if strings.Contains(o.Message, "tok-7c1f9a") {
					t.Errorf("scratch %v, %s shows the token:\n%s", withScratch, st.Name, o.Message)
				}
				if o.Captures != nil {
					captures = o.Captures // the next Run reads the map this one gave
				}
				msgs[i] = o.Message
			}
		}
		if msgs[0] != msgs[1] || !strings.Contains(msgs[1], Redacted) {
			t.Errorf("the capture's error without a Scratch:\n%s\nwith one:\n%s", msgs[0], msgs[1])
		}
	})
}

// Under load (lean) a step keeps a copy of its response's body only when
// something of it reads the body, and every step still counts its bytes:
// a status check counts 5000 bytes it does not keep, while a body
// expectation, a JSON capture and an assertion on the whole response see
// the body.
func TestALeanStepKeepsTheBodyItReads(t *testing.T) {
	body := `{"pad":"` + strings.Repeat("x", 4990) + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	cfg, diags := load(t, fmt.Sprintf("target \"t\" { url = %q }\n", srv.URL)+`
steps "s" {
  step "status" {
    http { path = "/" }
    expect { status = 200 }
    capture { code = response.status }
  }
  step "contains" {
    http { path = "/" }
    expect { body_contains = "xxx\"}" }
  }
  step "json" {
    http { path = "/" }
    capture { pad = response.json.pad }
  }
  step "whole" {
    http { path = "/" }
    assert {
      condition     = response.body == jsonencode(response.json) && response.status == 200
      error_message = "the body is not whole"
    }
  }
  step "wrong" {
    http { path = "/" }
    expect { body_contains = "yyy" }
  }
}`)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	env, err := NewEnv(cfg, map[string]string{"t": srv.URL}, "t")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	env.Lean = true
	env.Scratch = new(Scratch)
	want := map[string]struct {
		status result.Status
		reads  bool
	}{"status": {result.Passed, false}, "contains": {result.Passed, true}, "json": {result.Passed, true}, "whole": {result.Passed, true}, "wrong": {result.Failed, true}}
	for _, st := range cfg.Suites[0].(*stepsSuite).steps {
		o := st.Run(context.Background(), env, map[string]cty.Value{})
		w := want[st.Name]
		if o.Status != w.status || o.BytesIn != len(body) {
			t.Errorf("%s: %s with %d bytes in, want %s with %d: %s", st.Name, o.Status, o.BytesIn, w.status, len(body), o.Message)
		}
		if got := st.readsBody(env); got != w.reads {
			t.Errorf("%s: reads its body %v, want %v", st.Name, got, w.reads)
		}
		if st.Name == "json" {
			if v := o.Captures["pad"]; v.Type() != cty.String || v.AsString() != strings.Repeat("x", 4990) {
				t.Errorf("json: captured %#v, want the 4990 x of the body", v)
			}
		}
	}
	// Not lean, every step keeps it, for the excerpt.
	env.Lean = false
	for _, st := range cfg.Suites[0].(*stepsSuite).steps {
		if !st.readsBody(env) {
			t.Errorf("%s keeps no body for its excerpt", st.Name)
		}
	}
}
