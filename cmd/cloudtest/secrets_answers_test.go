package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plantedKeyBody is the body of a private key made up for the test.
var plantedKeyBody = strings.Repeat("MIIEplantedKEYbody0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ\n", 300)

// A functional step keeps its exchange as evidence: what the target sent
// back is masked like a security finding's evidence, although cloudtest
// never knew the values (a token in a login's answer nobody captured, a
// private key served by mistake and longer than the 8 KB excerpt: the
// answer is masked before it is cut, the key whole).
func TestSecretLookingValuesInAnyAnswerAreMaskedInTheEvidence(t *testing.T) {
	srv := echoServer(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/key", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "config dump\n-----BEGIN RSA PRIVATE KEY-----\n"+plantedKeyBody+"-----END RSA PRIVATE KEY-----\n")
	})
	mux.Handle("/", srv.Config.Handler)
	both := httptest.NewServer(mux)
	t.Cleanup(both.Close)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(both) + `
functional "f" {
  target = target.t
  case "answers" {
    step "login" {
      http {
        method = "POST"
        path   = "/login"
      }
      expect { status = 200 }
    }
    step "key" {
      http { path = "/key" }
      expect { status = 200 }
    }
  }
}
`})
	if r.code != 0 {
		t.Fatalf("the run exited %d, want 0\n%s", r.code, r.terminal)
	}
	results, err := os.ReadFile(filepath.Join(r.dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// The evidence is there, names kept, so the test shows something.
	for _, kept := range []string{`\"token\"`, `\"session_id\"`, "BEGIN RSA PRIVATE KEY"} {
		if !strings.Contains(string(results), kept) {
			t.Errorf("results.jsonl lacks %q, so the evidence is not what this test expects\n%.3000s", kept, results)
		}
	}
	r.expectNoLeak(t, map[string]string{
		"token":     plantedToken,
		"session":   plantedSession,
		"key body":  "MIIEplantedKEYbody",
		"key piece": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
	})
}
