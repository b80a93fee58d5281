package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// loadTerminal runs cloudtest with args on a suite directory made of files
// and returns what it printed and its exit code.
func loadTerminal(t *testing.T, files map[string]string, args ...string) (string, int, string) {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "{dir}", dir)
	}
	code := run(append(args, dir), &stdout, &stderr)
	return stdout.String() + stderr.String(), code, dir
}

// terminalLeaks fails the test with every form of secret found in out.
func terminalLeaks(t *testing.T, what, out string, secret string) {
	t.Helper()
	r := leakRun{terminal: out, dir: t.TempDir()}
	r.expectNoLeak(t, map[string]string{what: secret})
}

// Load-time errors (a -var or var-file value that is not a number, a
// function refusing a sensitive argument) do not show the value: before,
// `-var sets "pin" to "S3cretPinAbc"`, `with var.pw as "…"` and the
// var-file's source line were printed.
func TestLoadTimeErrorsDoNotShowSensitiveValues(t *testing.T) {
	const pin, pw = "S3cretPinAbc", "Tr0ub4dor&3/xK+9=ab"
	vars := `
variable "pin" {
  type      = number
  sensitive = true
  default   = 1234
}
variable "pw" {
  sensitive = true
  default   = "x"
}
`
	target := `target "t" { url = "http://127.0.0.1:1" }` + "\n"
	suite := `
functional "f" {
  target = target.t
  step "s" {
    http { path = "/x/${tonumber(var.pw)}" }
  }
}
`
	for _, cmd := range []string{"validate", "plan", "run"} {
		args := []string{cmd, "--var", "pw=" + pw}
		if cmd == "run" {
			args = append(args, "--out", t.TempDir())
		}
		out, code, _ := loadTerminal(t, map[string]string{"main.hcl": vars + target + suite}, args...)
		if code != 2 || !strings.Contains(out, "main.hcl line 16") {
			t.Errorf("%s: exit %d, want 2 with the error's line:\n%s", cmd, code, out)
		}
		terminalLeaks(t, cmd+" tonumber(var.pw)", out, pw)
	}
	out, code, _ := loadTerminal(t, map[string]string{"main.hcl": vars + target}, "validate", "--var", "pin="+pin)
	if code != 2 || !strings.Contains(out, `"pin"`) {
		t.Errorf("-var pin: exit %d, want 2 naming pin:\n%s", code, out)
	}
	terminalLeaks(t, "-var pin", out, pin)
	out, code, _ = loadTerminal(t, map[string]string{"main.hcl": vars + target, "bad2.tfvars": "pw = \"fine\"\npin = \"" + pin + "\"\n"},
		"validate", "--var-file", "{dir}/bad2.tfvars")
	if code != 2 || !strings.Contains(out, "bad2.tfvars line 2") {
		t.Errorf("var-file: exit %d, want 2 naming bad2.tfvars line 2:\n%s", code, out)
	}
	terminalLeaks(t, "var-file pin", out, pin)
}

// A case keyed by a sensitive value would carry the secret in its name to
// every report: it is refused, as Terraform does. Before, validate
// accepted it and the case "c[<password>]" was in every output.
func TestASensitiveValueCannotBeAForEachKey(t *testing.T) {
	srv := echoServer(t)
	src := passwordVariable + hclTarget(srv) + `
functional "f" {
  target = target.t
  case "c" {
    for_each = [var.pw]
    step "s" {
      http { path = "/echo/x" }
    }
  }
}
`
	out, code, _ := loadTerminal(t, map[string]string{"main.hcl": src}, append([]string{"validate"}, pwArgs()...)...)
	if code != 2 || !strings.Contains(out, "Sensitive values cannot be used as for_each keys") || !strings.Contains(out, "main.hcl line 10") {
		t.Errorf("validate: exit %d, want 2 refusing the key on line 10:\n%s", code, out)
	}
	terminalLeaks(t, "validate", out, plantedPassword)
	out, code, _ = loadTerminal(t, map[string]string{"main.hcl": src}, append([]string{"run", "--out", t.TempDir()}, pwArgs()...)...)
	if code != 2 {
		t.Errorf("run: exit %d, want 2:\n%s", code, out)
	}
	terminalLeaks(t, "run", out, plantedPassword)
}

// A process target started with sensitive values (an argument, an
// environment variable) echoes them; a URL target holds one in its
// userinfo. Before: plan printed the command line and the URL in clear,
// and targets/<name>.log held "started with Tr0ub4dor&3/xK+9=ab
// Hdr-S3cretName77".
func TestTargetsStartedWithSecretsDoNotShowThem(t *testing.T) {
	const pw, name = "Tr0ub4dor&3/xK+9=ab", "S3cretName77"
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	srv := echoServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	// The argument is echoed whole and then again split over two writes
	// 200 ms apart.
	script := `echo started with "$1" "$HDR"; printf 'split %s' "$(printf %s "$1" | cut -c1-6)"; sleep 0.2; printf '%s\n' "$(printf %s "$1" | cut -c7-)"; exec "$2" demo --listen 127.0.0.1:{port}`
	src := fmt.Sprintf(`
variable "pw" {
  sensitive = true
}
variable "name" {
  sensitive = true
}
target "echoing" {
  process {
    command = ["/bin/sh", "-c", %q, "sh", var.pw, %q]
    env     = { HDR = "Hdr-${var.name}" }
    url     = "http://127.0.0.1:{port}"
    ready   = "/healthz"
  }
}
target "basic" { url = "http://alice:${var.name}@%s" }
functional "f" {
  target = target.echoing
  step "up" {
    http { path = "/healthz" }
    expect { status = 200 }
  }
}
functional "g" {
  target = target.basic
  step "echo" {
    http { path = "/echo/x" }
    expect { status = 200 }
  }
}
`, script, exe, host)
	args := []string{"--var", "pw=" + pw, "--var", "name=" + name}
	secrets := map[string]string{"pw": pw, "name": name}
	out, code, _ := loadTerminal(t, map[string]string{"main.hcl": src}, append([]string{"plan"}, args...)...)
	if code != 0 || !strings.Contains(out, "process /bin/sh -c") || !strings.Contains(out, "http://alice:") {
		t.Errorf("plan: exit %d, want 0 describing both targets:\n%s", code, out)
	}
	leakRun{terminal: out, dir: t.TempDir()}.expectNoLeak(t, secrets)
	r := runForLeaks(t, map[string]string{"main.hcl": src}, args...)
	if r.code != 0 {
		t.Errorf("run: exit %d, want 0:\n%s", r.code, r.terminal)
	}
	r.expectFound(t, "targets/echoing.log", "started with [REDACTED] Hdr-[REDACTED]")
	r.expectFound(t, "targets/echoing.log", "split [REDACTED]")
	r.expectNoLeak(t, secrets)
	// What the split write leaves when the halves are redacted alone.
	b, _ := os.ReadFile(filepath.Join(r.dir, "targets/echoing.log"))
	if strings.Contains(string(b), pw[:6]) {
		t.Errorf("targets/echoing.log holds the first half of the secret:\n%s", b)
	}
}

// junit.xml escapes a bidirectional override and ESC as the other reports
// do (\u202e, \x1b). Before, U+202E was written raw in the suite's name
// and ESC became U+FFFD.
func TestJUnitEscapesControlsAsTheOtherReports(t *testing.T) {
	srv := echoServer(t)
	r := runForLeaks(t, map[string]string{"main.hcl": hclTarget(srv) + `
functional "bidi` + "\u202e" + `evil" {
  target = target.t
  step "s" {
    http { path = "/echo/x" }
    assert {
      condition     = response.status == 500
      error_message = "esc ` + "\x1b" + `[31m red"
    }
  }
}
`})
	b, err := os.ReadFile(filepath.Join(r.dir, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	j := string(b)
	if strings.ContainsRune(j, '\u202e') || strings.ContainsRune(j, '\uFFFD') || strings.ContainsRune(j, '\x1b') {
		t.Errorf("junit.xml holds a raw override, ESC or U+FFFD:\n%s", j)
	}
	if !strings.Contains(j, `name="bidi\u202eevil"`) || !strings.Contains(j, `esc \x1b[31m red`) {
		t.Errorf("junit.xml does not escape the override and ESC as \\u202e and \\x1b:\n%s", j)
	}
}

// Two selection flags that each match a suite but no suite together: a
// usage error (exit 2) with the flags named, as a flag that matches
// nothing is. Before: exit 3, "No suite was selected".
func TestAnEmptyIntersectionOfSelectorsIsAUsageError(t *testing.T) {
	srv := echoServer(t)
	src := hclTarget(srv) + `
functional "a" {
  target = target.t
  tags   = ["x"]
  step "s" {
    http { path = "/echo/a" }
  }
}
functional "b" {
  target = target.t
  tags   = ["y"]
  step "s" {
    http { path = "/echo/b" }
  }
}
`
	out, code, _ := loadTerminal(t, map[string]string{"main.hcl": src}, "run", "--out", t.TempDir(), "--suite", "a", "--tag", "y")
	if code != 2 || !strings.Contains(out, "no suite matches all of --tag y --suite a") {
		t.Errorf("exit %d, want 2 naming both flags:\n%s", code, out)
	}
}

// `cloudtest report` of a --suite run killed (kill -9) in the middle still
// says the matrix was not assessed, and that the end is unknown. Before:
// the "not assessed" line was gone and summary.md said "Run …, 0s".
func TestTheReportOfAKilledSelectionSaysTheMatrixWasNotAssessed(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	suites, _ := filepath.Abs("../../examples/demobank")
	out := t.TempDir()
	cmd := exec.Command(exe, "run", "--out", out, "--suite", "ledger-primary-loss", suites)
	cmd.Env = append(os.Environ(), asCLI+"=1", "CI=true")
	var stdout syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killProcessesMentioning(out) })
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stdout.String(), "injected") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if !strings.Contains(stdout.String(), "injected") {
		t.Fatalf("the run did not reach its fault:\n%s", stdout.String())
	}
	dir := onlyRunDir(t, out)
	// What the killed run left running goes (its demo bank).
	var rb bytes.Buffer
	run([]string{"recover", dir}, &rb, &rb)
	rb.Reset()
	run([]string{"report", dir}, &rb, &rb)
	sum, err := os.ReadFile(filepath.Join(dir, "summary.md"))
	if err != nil {
		t.Fatalf("%v\n%s", err, rb.String())
	}
	s := string(sum)
	if !strings.Contains(s, "was not assessed: this run selected suites (--suite ledger-primary-loss)") {
		t.Errorf("summary.md does not say the matrix was not assessed:\n%s", s)
	}
	if strings.Contains(s, ", 0s.") || !strings.Contains(s, "end unknown") {
		t.Errorf("summary.md does not say the end is unknown:\n%s", s)
	}
}
