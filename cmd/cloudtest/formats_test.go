package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/evidence"
	"github.com/cloudtest/cloudtest/internal/remotewrite/promtest"
	"github.com/cloudtest/cloudtest/internal/report"
	"github.com/cloudtest/cloudtest/internal/schemas"
)

// checkFormats validates the machine formats of a run directory against
// their published schemas and checks the bundle and its attestation.
func checkFormats(t *testing.T, dir string) {
	t.Helper()
	for file, schema := range map[string]string{report.OSCALFile: schemas.OSCALAssessmentResults, report.SARIFFile: schemas.SARIF} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatalf("the run directory lacks %s: %v", file, err)
		}
		schemas.Validate(t, schema, b)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"verify", dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, evidence.AttestationFile)); err != nil {
		t.Fatalf("no attestation: %v", err)
	}
}

func TestTheRunDirectoryHasOSCALSARIFAndAVerifiedAttestation(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, "--suite", "health", "--suite", "mobile-edge-planted", "../../examples/demobank"}, &stdout, &stderr)
	if code != exitOK && code != exitIncomplete {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	dir := onlyRunDir(t, out)
	checkFormats(t, dir)

	// The planted suite's findings are in SARIF, at the security.hcl lines.
	sarif, _ := os.ReadFile(filepath.Join(dir, report.SARIFFile))
	if !strings.Contains(string(sarif), `"ruleId": "default_credentials/accepted"`) || !strings.Contains(string(sarif), `"uri": "../../examples/demobank/security.hcl"`) {
		t.Errorf("findings.sarif lacks the planted finding at security.hcl:\n%.3000s", sarif)
	}
	// The attestation names the suites and every file of the bundle.
	env, _ := os.ReadFile(filepath.Join(dir, evidence.AttestationFile))
	var e struct{ Payload string }
	json.Unmarshal(env, &e)
	body, _ := base64.StdEncoding.DecodeString(e.Payload)
	for _, want := range []string{`"passedTests":["health","mobile-edge-planted"]`, `"name":"report.html"`, `"name":"oscal-assessment-results.json"`, `"name":"findings.sarif"`} {
		if !strings.Contains(strings.ReplaceAll(string(body), " ", ""), want) {
			t.Errorf("the statement lacks %s:\n%s", want, body)
		}
	}
	// Rendering again (cloudtest report) keeps the bundle valid: the
	// formats are a function of the run directory.
	stdout.Reset()
	run([]string{"report", dir}, &stdout, &stderr)
	if code := run([]string{"verify", dir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("verify after cloudtest report: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	// One byte of the attestation changed: verify fails and says why.
	path := filepath.Join(dir, evidence.AttestationFile)
	i := bytes.Index(env, []byte(`"payload": "`)) + len(`"payload": "`) + 10
	if env[i] == 'A' {
		env[i] = 'B'
	} else {
		env[i] = 'A'
	}
	os.WriteFile(path, env, 0o644)
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"verify", dir}, &stdout, &stderr); code != exitRejected || !strings.Contains(stderr.String(), evidence.AttestationFile) {
		t.Fatalf("verify of a changed attestation: exit %d, want 1 naming %s\n%s%s", code, evidence.AttestationFile, stdout.String(), stderr.String())
	}
}

// TestMetricsRemoteWriteFlagPushesTheLoad runs the example's performance
// suite with --metrics-remote-write pointed at a real Prometheus: both the
// demo bank and the legacy one show up, labelled with the run and suite.
func TestMetricsRemoteWriteFlagPushesTheLoad(t *testing.T) {
	prom := promtest.Start(t)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, "--suite", "login-balance-ledger", "--metrics-remote-write", promtest.WriteURL(prom), "../../examples/demobank"}, &stdout, &stderr)
	if code != exitOK && code != exitIncomplete {
		t.Fatalf("run: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	runID := filepath.Base(onlyRunDir(t, out))
	got := promtest.Eventually(t, prom, `sum by (target) (cloudtest_requests_total{run_id="`+runID+`", suite="login-balance-ledger"})`, func(s []promtest.Sample) error {
		if len(s) != 2 {
			return fmt.Errorf("want the demo and legacy targets")
		}
		return nil
	})
	for _, s := range got {
		if s.Value < 50 {
			t.Errorf("target %s: %g requests", s.Labels["target"], s.Value)
		}
	}
	stderr.Reset()
	if code := run([]string{"run", "--out", out, "--metrics-remote-write", "localhost:9090", "../../examples/demobank"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--metrics-remote-write") {
		t.Errorf("a URL without a scheme: exit %d, %s", code, stderr.String())
	}
}
