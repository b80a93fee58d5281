package security

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
)

// ran is what one run of a security suite left in results.jsonl.
type ran struct {
	results []result.Result
	suite   result.Result
	sum     result.SecuritySummary
	dir     string
}

// runSuite writes src to a directory (with extra files), loads and runs it
// for real, and returns its results.
func runSuite(t *testing.T, src string, files map[string]string) ran {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "suite.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	plan, err := runner.NewPlan(cfg, runner.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := runner.Run(ctx, plan, runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(sum.Dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := ran{dir: sum.Dir}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		var r result.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out.results = append(out.results, r)
		if r.Level == result.LevelSuite {
			out.suite = r
			if len(r.Data) > 0 {
				if err := json.Unmarshal(r.Data, &out.sum); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if out.suite.Level == "" {
		t.Fatalf("no suite result in %s", sum.Dir)
	}
	return out
}

// ids lists the distinct finding ids, sorted.
func (r ran) ids() []string {
	var out []string
	for _, f := range r.sum.Findings {
		if !slices.Contains(out, f.ID) {
			out = append(out, f.ID)
		}
	}
	slices.Sort(out)
	return out
}

func (r ran) finding(id string) *result.Finding {
	for i := range r.sum.Findings {
		if r.sum.Findings[i].ID == id {
			return &r.sum.Findings[i]
		}
	}
	return nil
}

func port(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// apiSuite is the same suite for the planted and the hardened API: only
// the target and the swept ports differ.
func apiSuite(t *testing.T, base string, ports []string) string {
	return fmt.Sprintf(`
target "api" { url = %q }

security "api" {
  target = target.api
  scope {
    allow        = ["127.0.0.1"]
    max_requests = 400
  }

  identity "alice" {
    step "login" {
      http {
        method = "POST"
        path   = "/login"
        json   = { user = "alice", password = "alice-pw" }
      }
      expect { status = 200 }
      capture { token = response.json.token }
    }
    headers = { Authorization = "Bearer ${capture.token}" }
    owns    = ["/api/objects/a1"]
  }
  identity "bob" {
    step "login" {
      http {
        method = "POST"
        path   = "/login"
        json   = { user = "bob", password = "bob-pw" }
      }
      capture { token = response.json.token }
    }
    headers = { Authorization = "Bearer ${capture.token}" }
    owns    = ["/api/objects/b1"]
  }

  check "headers" {
    paths      = ["/", "/healthz"]
    auth_paths = ["/api/objects/a1"]
  }
  check "auth" {
    paths         = ["/api/open", "/api/objects/{id}"]
    path_params   = { id = "a1" }
    allow         = ["/healthz"]
    expired_token = "expired-token"
  }
  check "cors" { paths = ["/", "/api/objects/a1"] }
  check "exposure" {
    ports       = [%s]
    allow_ports = [%s]
  }
  check "injection" {
    probes = ["command", "path_traversal", "xss"]
    parameter "q" { path = "/search" }
    parameter "name" {
      path  = "/file"
      value = "terms.txt"
    }
    parameter "host" {
      path  = "/ping"
      value = "localhost"
    }
  }
  check "default_credentials" {
    step "login" {
      http {
        method = "POST"
        path   = "/login"
        json   = { user = each.value.user, password = each.value.password }
      }
    }
  }
  check "rate_limit" {
    attempts = 6
    within   = 4
    step "guess" {
      http {
        method = "POST"
        path   = "/login"
        json   = { user = "alice", password = "guess-${each.value}" }
      }
    }
  }
}
`, base, strings.Join(ports, ", "), port(t, base))
}

func TestChecksFindEveryPlantedWeakness(t *testing.T) {
	base, extra := startAPI(t, true)
	r := runSuite(t, apiSuite(t, base, []string{port(t, base), fmt.Sprint(extra)}), nil)
	want := []string{
		"auth/bola", "auth/no-credentials",
		"cors/wildcard-with-credentials",
		"default_credentials/accepted",
		"exposure/debug-exposed", "exposure/source-exposed", "exposure/unexpected-port",
		"headers/cache-control-missing", "headers/csp-missing", "headers/framing-allowed", "headers/nosniff-missing",
		"headers/referrer-policy-missing", "headers/version-disclosure",
		"injection/command", "injection/path-traversal", "injection/reflected-xss",
		"rate_limit/not-throttled",
	}
	if got := r.ids(); !slices.Equal(got, want) {
		t.Fatalf("findings:\n got %v\nwant %v\nmessage: %s", got, want, r.suite.Message)
	}
	if r.suite.Status != result.Failed {
		t.Errorf("suite status = %s, want failed (open findings)", r.suite.Status)
	}
	bola := r.finding("auth/bola")
	if bola.Where != "/api/objects/a1" && bola.Where != "/api/objects/b1" || bola.Evidence == nil || bola.Evidence.Status != 200 {
		t.Errorf("bola finding lacks its evidence: %+v", bola)
	}
	if bola.Evidence.RequestHeaders["Authorization"] != "[REDACTED]" {
		t.Errorf("the token in the evidence is not redacted: %v", bola.Evidence.RequestHeaders)
	}
	cmd := r.finding("injection/command")
	if cmd.Severity != "critical" || !strings.Contains(cmd.Reference, "CWE-78") {
		t.Errorf("command injection: %+v", cmd)
	}
	if p := r.finding("exposure/unexpected-port"); p.Where != fmt.Sprintf("127.0.0.1:%d", extra) {
		t.Errorf("open port finding names %s, want the extra port %d", p.Where, extra)
	}
	for _, f := range r.sum.Findings {
		if f.Severity == "" || f.Reference == "" || f.Title == "" || f.Status != "open" {
			t.Errorf("incomplete finding: %+v", f)
		}
	}
	if r.sum.Requests == 0 || r.sum.Requests > 400 {
		t.Errorf("requests counted by the guard = %d", r.sum.Requests)
	}
}

func TestHardenedTargetGivesNoFinding(t *testing.T) {
	base, _ := startAPI(t, false)
	r := runSuite(t, apiSuite(t, base, []string{port(t, base)}), nil)
	if len(r.sum.Findings) != 0 || r.suite.Status != result.Passed {
		for _, f := range r.sum.Findings {
			t.Logf("false positive: %s at %s: %s", f.ID, f.Where, f.Detail)
		}
		t.Fatalf("suite %s: %s", r.suite.Status, r.suite.Message)
	}
	if len(r.sum.Checks) != 7 {
		t.Errorf("checks run: %+v", r.sum.Checks)
	}
}

func TestIdentityTokensNeverReachTheResults(t *testing.T) {
	base, _ := startAPI(t, true)
	r := runSuite(t, apiSuite(t, base, []string{port(t, base)}), nil)
	b, err := os.ReadFile(filepath.Join(r.dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"alice-token", "bob-token"} {
		if strings.Contains(string(b), tok) {
			t.Errorf("results.jsonl holds the live token %q", tok)
		}
	}
	if !strings.Contains(string(b), "[REDACTED]") {
		t.Error("nothing was redacted")
	}
}
