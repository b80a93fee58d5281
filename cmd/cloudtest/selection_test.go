package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// functionalBank is examples/demobank with its functional suites only: a
// full run leaves the performance, reliability and security requirements
// of its deployment unmet.
func functionalBank(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyDir(t, "../../examples/demobank", dir)
	for _, f := range []string{"performance.hcl", "reliability.hcl", "security.hcl"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runCLI runs the built cloudtest in a process of its own and returns its
// exit code, its output and the run directory it wrote (if any).
func runCLI(t *testing.T, bin string, args ...string) (code int, stdout, stderr, dir string) {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command(bin, append([]string{"run", "--out", out}, args...)...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	if dirs, _ := filepath.Glob(filepath.Join(out, "*")); len(dirs) == 1 {
		dir = dirs[0]
	}
	return cmd.ProcessState.ExitCode(), o.String(), e.String(), dir
}

func TestASelectionIsJudgedOnTheSelectedSuites(t *testing.T) {
	bin := buildCLI(t)
	bank := functionalBank(t)

	t.Run("a full run with requirements unmet is incomplete", func(t *testing.T) {
		code, stdout, stderr, _ := runCLI(t, bin, bank)
		if code != exitIncomplete || !strings.Contains(stdout, "Requirement core-ledger/performance/test is not met") {
			t.Fatalf("exit %d, want 3 with the unmet requirement\n%s\n%s", code, stdout, stderr)
		}
	})

	for _, sel := range [][]string{{"--suite", "health"}, {"--tag", "smoke"}, {"--only", "functional"}, {"--component", "mobile-channel"}} {
		t.Run("a passing selection "+strings.Join(sel, " ")+" is accepted and says the matrix was not assessed", func(t *testing.T) {
			code, stdout, stderr, dir := runCLI(t, bin, append(sel, bank)...)
			if code != exitOK {
				t.Fatalf("exit %d, want 0\n%s\n%s", code, stdout, stderr)
			}
			if strings.Contains(stdout, "Requirement ") {
				t.Errorf("the verdict names requirements nobody selected:\n%s", stdout)
			}
			note := "acceptance matrix of the hybrid deployment was not assessed: this run selected suites (" + strings.Join(sel, " ") + ")"
			if !strings.Contains(stdout, note) {
				t.Errorf("the terminal does not say the matrix was not assessed:\n%s", stdout)
			}
			for _, f := range []string{"report.html", "report.json", "summary.md", "junit.xml"} {
				b, err := os.ReadFile(filepath.Join(dir, f))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), note) {
					t.Errorf("%s does not say the matrix was not assessed", f)
				}
			}
			var rep struct {
				Verdict    string `json:"verdict"`
				Acceptance struct {
					Outcome      string `json:"outcome"`
					NotAssessed  string `json:"not_assessed"`
					Requirements []any  `json:"requirements"`
				} `json:"acceptance"`
			}
			b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != "ACCEPTED" || rep.Acceptance.Outcome != "not_assessed" || len(rep.Acceptance.Requirements) != 0 {
				t.Errorf("report.json: verdict %s, matrix outcome %q, %d requirements", rep.Verdict, rep.Acceptance.Outcome, len(rep.Acceptance.Requirements))
			}
		})
	}

	t.Run("a failing selected suite is rejected", func(t *testing.T) {
		path := filepath.Join(bank, "functional.hcl")
		src, _ := os.ReadFile(path)
		broken := strings.Replace(string(src), `response.json.currency == "CNY"`, `response.json.currency == "USD"`, 1)
		if broken == string(src) {
			t.Fatal("the example no longer has the assertion this test changes")
		}
		os.WriteFile(path, []byte(broken), 0o644)
		defer os.WriteFile(path, src, 0o644)
		code, stdout, stderr, _ := runCLI(t, bin, "--suite", "login-and-balance", bank)
		if code != exitRejected || !strings.Contains(stdout, `functional suite "login-and-balance" failed`) {
			t.Fatalf("exit %d, want 1\n%s\n%s", code, stdout, stderr)
		}
	})

	t.Run("plan says a selection does not assess the matrix", func(t *testing.T) {
		var stdout, stderr strings.Builder
		if code := run([]string{"plan", "--suite", "health", bank}, &stdout, &stderr); code != exitOK {
			t.Fatalf("plan: exit %d\n%s", code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "A run of this selection (--suite health) is judged on the suites above; it does not assess this matrix.") {
			t.Errorf("plan does not say so:\n%s", stdout.String())
		}
	})

	t.Run("a selection that matches nothing is a wrong command", func(t *testing.T) {
		for _, tt := range []struct{ flag, value, says string }{
			{"--only", "functionl", `there is no suite kind "functionl"; the kinds are functional, performance, reliability, security, migration. Did you mean "functional"?`},
			{"--only", "reliability", `no suite is of the kind "reliability" (the kinds in use: functional, migration).`},
			{"--suite", "helth", `there is no suite named "helth"`},
			{"--tag", "smok", `no suite has the tag "smok"`},
			{"--component", "core", `no suite tests the component "core"`},
		} {
			code, stdout, stderr, dir := runCLI(t, bin, tt.flag, tt.value, bank)
			if code != exitUsage || !strings.Contains(stderr, tt.flag+" "+tt.value+": "+tt.says) {
				t.Errorf("%s %s: exit %d, want 2 saying %q\n%s\n%s", tt.flag, tt.value, code, tt.says, stdout, stderr)
			}
			if dir != "" {
				t.Errorf("%s %s: a run directory was written", tt.flag, tt.value)
			}
		}
	})
}
