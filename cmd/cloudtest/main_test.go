package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/bad")

// TestValidateReportsBadInputs runs `cloudtest validate` on every file of
// testdata/bad and compares what it prints with the file's .golden twin.
func TestValidateReportsBadInputs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.hcl")
	if err != nil || len(files) < 15 {
		t.Fatalf("want at least 15 bad inputs, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hcl")
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"validate", "--no-color", f}, &stdout, &stderr)
			if code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr.String())
			}
			got := stderr.String()
			if strings.Contains(got, "goroutine ") || strings.Contains(got, "panic") {
				t.Fatalf("a Go panic reached the user:\n%s", got)
			}
			if !regexp.MustCompile(`testdata/bad/` + regexp.QuoteMeta(name) + `\.hcl line \d+`).MatchString(got) {
				t.Fatalf("no file:line in the diagnostics:\n%s", got)
			}
			golden := strings.TrimSuffix(f, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/cloudtest -run TestValidate -update)", err)
			}
			if got != string(want) {
				t.Fatalf("diagnostics differ from %s\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}

func TestValidateAcceptsTheExample(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "../../examples/demobank"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
}

func TestUnknownCommandAndHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"frobnicate"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), `unknown command "frobnicate"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	for _, c := range commands() {
		stdout.Reset()
		stderr.Reset()
		if c.name == "demo" {
			continue // the demo bank's own flags are tested in its package
		}
		code := run([]string{c.name, "--help"}, &stdout, &stderr)
		if code != exitOK || !strings.Contains(stderr.String(), "Example:") {
			t.Errorf("cloudtest %s --help: exit %d, want 0 and an example; got %q", c.name, code, stderr.String())
		}
	}
}

// buildCLI compiles cloudtest once for the tests that need a real process.
func buildCLI(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cloudtest")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(dst, 0o755)
	for _, e := range entries {
		if e.IsDir() {
			copyDir(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
	}
}

func onlyRunDir(t *testing.T, out string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(dirs) != 1 {
		t.Fatalf("want one run directory in %s, found %v", out, dirs)
	}
	return dirs[0]
}

func TestRunTheExampleIsAccepted(t *testing.T) {
	// The two whole runs of the example wait on their probes and loads
	// far more than they compute: they run side by side (each its own
	// run directory, ports and containers).
	t.Parallel()
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, "--parallel", "2", "../../examples/demobank"}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyRunDir(t, out)
	for _, f := range []string{"results.jsonl", "report.json", "report.html", "junit.xml", "summary.md", "run.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	if !strings.Contains(stdout.String(), "Verdict: ACCEPTED") {
		t.Errorf("stdout does not give the verdict:\n%s", stdout.String())
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if bytes.Contains(html, []byte("wonderland")) {
		t.Error("the sensitive password appears in report.html")
	}
	checkFormats(t, dir)
}

func TestRunWithABrokenAssertionIsRejected(t *testing.T) {
	suites := t.TempDir()
	copyDir(t, "../../examples/demobank", suites)
	path := filepath.Join(suites, "functional.hcl")
	src, _ := os.ReadFile(path)
	broken := strings.Replace(string(src), `response.json.currency == "CNY"`, `response.json.currency == "USD"`, 1)
	if broken == string(src) {
		t.Fatal("the example no longer has the assertion this test changes")
	}
	os.WriteFile(path, []byte(broken), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, "--suite", "login-and-balance", suites}, &stdout, &stderr)
	if code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitRejected, stdout.String(), stderr.String())
	}
	dir := onlyRunDir(t, out)
	for _, f := range []string{"report.html", "junit.xml"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		s := string(b)
		if !strings.Contains(s, "balance") || !strings.Contains(s, "Balances must be served in CNY.") {
			t.Errorf("%s does not name the failed step and its message", f)
		}
		if !strings.Contains(s, "CNY") || !strings.Contains(s, "currency") {
			t.Errorf("%s does not show the value that made the assertion fail", f)
		}
	}
}

// TestInterruptWritesAPartialReport sends SIGINT to a real cloudtest process
// in the middle of a run, as Ctrl-C on a terminal does.
func TestInterruptWritesAPartialReport(t *testing.T) {
	bin := buildCLI(t)
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "slow.hcl"), []byte(`
target "demo" {
  embedded = "demobank"
  demobank {
    slow_paths = { "/slow" = "1h" }
  }
}
functional "quick" {
  target = target.demo
  step "health" {
    http { path = "/healthz" }
    expect { status = 200 }
  }
}
functional "stuck" {
  target     = target.demo
  depends_on = ["quick"]
  step "wait" {
    http {
      path    = "/slow/anything"
      timeout = "1h"
    }
  }
}
functional "never" {
  target     = target.demo
  depends_on = ["stuck"]
  step "health" {
    http { path = "/healthz" }
  }
}
`), 0o644)
	out := t.TempDir()
	cmd := exec.Command(bin, "run", "--out", out, suites)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the stuck suite has started, then interrupt.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), `start  functional "stuck"`) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the stuck suite never started:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("cloudtest did not stop within 30s of Ctrl-C:\n%s", stdout.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d, want 130\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyRunDir(t, out)
	for _, f := range []string{"results.jsonl", "report.json", "report.html", "junit.xml", "summary.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("partial report lacks %s", f)
		}
	}
	results, _ := os.ReadFile(filepath.Join(dir, "results.jsonl"))
	if !strings.Contains(string(results), `"suite":"quick","kind":"functional","level":"suite","status":"passed"`) {
		t.Errorf("the result measured before Ctrl-C was lost:\n%s", results)
	}
	rep, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if !strings.Contains(string(rep), "INCOMPLETE") {
		t.Errorf("report.json of an interrupted run is not INCOMPLETE")
	}
}

// syncBuffer is a bytes.Buffer that a child process writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEachModeExampleIsIncompleteForItsOneGap(t *testing.T) {
	gaps := map[string]string{
		"private":   `Requirement core-banking/security/iaas/evidence:hardening_guide is not met: Evidence "hardening" is expired`,
		"community": `Requirement mobile-channel/security/saas/evidence:pentest_report is not met: No pentest_report covers this.`,
		"hybrid":    `Requirement ledger/security/drill is not met: Evidence "drill" is missing`,
	}
	for mode, gap := range gaps {
		t.Run(mode, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"run", "--out", t.TempDir(), "../../examples/modes/" + mode}, &stdout, &stderr)
			if code != exitIncomplete || !strings.Contains(stdout.String(), gap) {
				t.Fatalf("exit %d, want 3 with %q\n%s\n%s", code, gap, stdout.String(), stderr.String())
			}
			if n := strings.Count(stdout.String(), "\n  - "); (mode != "hybrid" && n != 1) || (mode == "hybrid" && n != 2) {
				t.Errorf("the example has other gaps than the deliberate one:\n%s", stdout.String())
			}
		})
	}
}

func TestMissingEvidenceAloneMakesTheRunIncomplete(t *testing.T) {
	t.Parallel() // beside TestRunTheExampleIsAccepted
	suites := t.TempDir()
	copyDir(t, "../../examples/demobank", suites)
	os.Remove(filepath.Join(suites, "evidence", "acme-pentest.txt"))
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, suites}, &stdout, &stderr)
	if code != exitIncomplete {
		t.Fatalf("exit %d, want 3\n%s\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyRunDir(t, out)
	md, _ := os.ReadFile(filepath.Join(dir, "summary.md"))
	if !strings.Contains(string(md), "**Verdict: INCOMPLETE**") || !strings.Contains(string(md), "acme-pentest.txt does not exist") {
		t.Fatalf("summary.md does not say why:\n%s", md)
	}
	junit, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if !strings.Contains(string(junit), "mobile-channel/security/iaas/evidence:pentest_report") {
		t.Fatal("junit.xml lacks the unmet requirement")
	}
}

func TestVerifyNamesEveryChangedFile(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--out", out, "--suite", "health", "../../examples/demobank"}, &stdout, &stderr); code != exitIncomplete && code != exitOK {
		t.Fatalf("run: exit %d\n%s", code, stderr.String())
	}
	dir := onlyRunDir(t, out)
	stdout.Reset()
	if code := run([]string{"verify", dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("verify of an untouched run: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	os.WriteFile(filepath.Join(dir, "summary.md"), []byte("**Verdict: ACCEPTED**"), 0o644)
	os.Remove(filepath.Join(dir, "junit.xml"))
	os.WriteFile(filepath.Join(dir, "evidence", "forged"), []byte("x"), 0o644)
	stdout.Reset()
	code := run([]string{"verify", dir}, &stdout, &stderr)
	for _, w := range []string{"changed: summary.md", "removed: junit.xml", "added: evidence/forged"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("verify output lacks %q:\n%s", w, stdout.String())
		}
	}
	if code != exitRejected {
		t.Fatalf("exit %d, want 1", code)
	}
}

// TestTheREADMEFailureExampleIsWhatTheCodePrints runs what the README's
// failure example says (the demo bank's currency assertion changed to
// "USD") and compares what the terminal shows from the step's failure to
// the verdict with the README's block, so that the README shows what the
// code prints.
func TestTheREADMEFailureExampleIsWhatTheCodePrints(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- readme-failure:")
	if !ok {
		t.Fatal("README.md lacks the marked failure example")
	}
	_, block, _ := strings.Cut(after, "```\n")
	want, _, _ := strings.Cut(block, "```")
	root := t.TempDir()
	suites := filepath.Join(root, "examples", "demobank")
	copyDir(t, "../../examples/demobank", suites)
	path := filepath.Join(suites, "functional.hcl")
	src, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(src), `response.json.currency == "CNY"`, `response.json.currency == "USD"`, 1)), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--out", t.TempDir(), "--suite", "login-and-balance", suites}, &stdout, &stderr); code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitRejected, stdout.String(), stderr.String())
	}
	// From the step's failure (printed in full once) to the verdict that
	// points at it; the times change from run to run.
	out := strings.ReplaceAll(stdout.String(), root+string(filepath.Separator), "")
	i := strings.Index(out, `step "balance" failed`)
	if i < 0 {
		t.Fatalf("no failure of step balance in\n%s", out)
	}
	i = strings.LastIndex(out[:i], "\n") + 1
	var got []string
	for _, line := range strings.Split(out[i:], "\n") {
		if strings.HasPrefix(line, "  - The acceptance matrix") || strings.HasPrefix(line, "Report:") {
			break
		}
		got = append(got, line)
	}
	times := func(s string) string {
		s = regexp.MustCompile(`(?m)^ *\d+\.\ds  `).ReplaceAllString(s, "<T>  ")
		return regexp.MustCompile(` in \d+ms`).ReplaceAllString(s, " in <N>ms")
	}
	if g := strings.Trim(strings.Join(got, "\n"), "\n"); times(g) != times(strings.Trim(want, "\n")) {
		t.Errorf("the terminal shows\n%s\n\nthe README shows\n%s", g, want)
	}
}
