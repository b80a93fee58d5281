package security

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// plainHTTPServer is a real loopback server whose paths answer plain HTTP
// the ways a migrated front end can: the right redirect, none, one to http,
// one to another place.
func plainHTTPServer(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/good", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+strings.Split(r.Host, ":")[0]+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/served", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "balance: 100") })
	mux.HandleFunc("/to-http", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/login") // relative: stays on http
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://127.0.0.1/home", http.StatusPermanentRedirect)
	})
	mux.HandleFunc("/no-location", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusMovedPermanently) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func redirectSuite(base, check string) string {
	return fmt.Sprintf(`
target "web" { url = %q }

security "web" {
  target = target.web
  scope { allow = ["127.0.0.1"] }
  %s
}`, base, check)
}

func TestRedirectToHTTPS(t *testing.T) {
	srv := plainHTTPServer(t)

	t.Run("each path that does not redirect to its https twin is a finding, and the suite fails", func(t *testing.T) {
		r := runSuite(t, redirectSuite(srv.URL, `check "redirect_to_https" { paths = ["/good", "/served", "/to-http", "/elsewhere", "/no-location"] }`), nil)
		if r.suite.Status != result.Failed {
			t.Fatalf("suite %s, want failed: %s", r.suite.Status, r.suite.Message)
		}
		got := map[string]string{}
		for _, f := range r.sum.Findings {
			got[f.Where] = f.ID
			if f.Evidence == nil || f.Evidence.URL != srv.URL+f.Where || f.Reference == "" {
				t.Errorf("finding %s at %s: evidence %+v, reference %q", f.ID, f.Where, f.Evidence, f.Reference)
			}
		}
		want := map[string]string{
			"/served":      "redirect_to_https/no-redirect",
			"/to-http":     "redirect_to_https/not-https",
			"/elsewhere":   "redirect_to_https/other-location",
			"/no-location": "redirect_to_https/no-redirect",
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("findings by path:\n got %v\nwant %v", got, want)
		}
		if f := r.finding("redirect_to_https/other-location"); f == nil || !strings.Contains(f.Detail, "https://127.0.0.1/elsewhere") {
			t.Errorf("the other-location finding does not name the expected https address: %+v", f)
		}
		if f := r.finding("redirect_to_https/not-https"); f == nil || !strings.Contains(f.Detail, srv.URL+"/login") {
			t.Errorf("the not-https finding does not name where it was sent: %+v", f)
		}
	})

	t.Run("a front end that redirects every path to https passes, named in the checks list", func(t *testing.T) {
		hardened := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://127.0.0.1"+r.URL.RequestURI(), http.StatusMovedPermanently)
		}))
		t.Cleanup(hardened.Close)
		r := runSuite(t, redirectSuite(hardened.URL, `checks = ["redirect_to_https"]`), nil)
		if r.suite.Status != result.Passed || len(r.sum.Findings) != 0 {
			t.Fatalf("suite %s, findings %+v: %s", r.suite.Status, r.sum.Findings, r.suite.Message)
		}
		if !slices.ContainsFunc(r.sum.Checks, func(c result.CheckRun) bool { return c.Name == "redirect_to_https" }) {
			t.Errorf("checks run: %+v", r.sum.Checks)
		}
	})

	t.Run("url gives the plain-HTTP address, and a refused one stays in the scope", func(t *testing.T) {
		r := runSuite(t, redirectSuite("https://127.0.0.2:8443", fmt.Sprintf(`check "redirect_to_https" {
    url   = %q
    paths = ["/served"]
  }`, srv.URL)), nil)
		if ids := r.ids(); !slices.Equal(ids, []string{"redirect_to_https/no-redirect"}) {
			t.Errorf("findings %v", ids)
		}
		// Without url, the https target's host over plain HTTP (port 80) is
		// asked: 127.0.0.2 is outside the scope, so nothing is sent there.
		r = runSuite(t, redirectSuite("https://127.0.0.2:8443", `checks = ["redirect_to_https"]`), nil)
		if r.suite.Status != result.Errored || len(r.sum.Checks) != 1 || !strings.Contains(r.sum.Checks[0].Error, "http://127.0.0.2/") ||
			!strings.Contains(r.sum.Checks[0].Error, "outside the declared scope") {
			t.Errorf("suite %s, checks %+v", r.suite.Status, r.sum.Checks)
		}
	})
}

func TestRedirectToHTTPSRefusesAnHTTPSURL(t *testing.T) {
	dir := t.TempDir()
	src := `
security "s" {
  scope { allow = ["127.0.0.1"] }
  check "redirect_to_https" { url = "https://127.0.0.1" }
}`
	if err := os.WriteFile(filepath.Join(dir, "suite.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	msg := diags.Error()
	if !diags.HasErrors() || !strings.Contains(msg, "suite.hcl:4") || !strings.Contains(msg, `must be a plain-HTTP address`) || !strings.Contains(msg, `found "https://127.0.0.1"`) {
		t.Errorf("diagnostics: %s", msg)
	}
}
