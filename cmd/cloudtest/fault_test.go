package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/hashicorp/hcl/v2"
	"sigs.k8s.io/yaml"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/fault"
	"github.com/cloudtest/cloudtest/internal/target"
)

// faultSuite stands in for the reliability suite: a suite that carries
// fault blocks.
type faultSuite struct {
	*config.SuiteCommon
	specs []*fault.Spec
}

func (s *faultSuite) FaultSpecs() []*fault.Spec { return s.specs }

var faultKind = config.SuiteKind{Type: "chaos", Decode: func(c *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (config.Suite, hcl.Diagnostics) {
	s := &faultSuite{SuiteCommon: c}
	content, diags := body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{fault.BlockSchema}})
	for _, b := range content.Blocks {
		spec, d := fault.DecodeFor(b, dc, c.Target)
		diags = append(diags, d...)
		s.specs = append(s.specs, spec)
	}
	return s, diags
}}

func TestEmitChaosWritesOneManifestPerFault(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s.hcl"), []byte(`
target "web" { url = "http://127.0.0.1:1" }
chaos "edge" {
  target = target.web
  fault "lag" {
    action   = "delay"
    latency  = "100ms"
    duration = "10s"
  }
  fault "cut" { action = "partition" }
}
chaos "quiet" { target = target.web }
`), 0o644)
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{faultKind}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	out := filepath.Join(t.TempDir(), "chaos")
	var stdout bytes.Buffer
	if err := writeChaos(out, cfg.Suites, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "2 manifests written to "+out) {
		t.Fatalf("stdout: %s", stdout.String())
	}
	b, err := os.ReadFile(filepath.Join(out, "edge-lag.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var nc v1alpha1.NetworkChaos
	if err := yaml.UnmarshalStrict(b, &nc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if nc.Name != "edge-lag" || nc.Spec.Action != v1alpha1.DelayAction || nc.Spec.Delay.Latency != "100ms" || *nc.Spec.Duration != "10s" {
		t.Fatalf("manifest: %s", b)
	}
	if _, err := os.Stat(filepath.Join(out, "edge-cut.yaml")); err != nil {
		t.Fatal(err)
	}
}

// TestRecoverRemovesWhatARunLeftBehind injects a pod-failure into a real
// supervised process and drops the lab without closing it, as a crash
// would; `cloudtest recover` then continues the process.
func TestRecoverRemovesWhatARunLeftBehind(t *testing.T) {
	runDir := t.TempDir()
	ctx := context.Background()
	sup, err := target.StartProcess(ctx, "svc", &config.Process{Command: []string{"sleep", "30"}, Restart: "never"},
		target.Options{BaseDir: runDir, WorkDir: runDir})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Stop()
	pid := sup.Pid()
	spec := &fault.Spec{Name: "freeze", Action: "pod-failure", Kind: "PodChaos", Engine: "local", Target: "svc"}
	lab, err := fault.Open(ctx, "kill the bank", []*fault.Spec{spec},
		map[string]*target.Instance{"svc": {Name: "svc", Process: sup}}, fault.JournalPath(runDir, "kill the bank"))
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Inject(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// SIGSTOP is delivered asynchronously: wait for it to take hold.
	for deadline := time.Now().Add(2 * time.Second); state(pid) != "T" && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if st := state(pid); st != "T" {
		t.Fatalf("state %q after the injection", st)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"recover", runDir}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), `removed fault "freeze" (pod-failure, local engine) of suite "kill the bank"`) ||
		!strings.Contains(stdout.String(), "1 faults removed") {
		t.Fatalf("stdout: %s", stdout.String())
	}
	deadline := time.Now().Add(2 * time.Second)
	for state(pid) == "T" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if st := state(pid); st == "T" || st == "" {
		t.Fatalf("state %q after recover", st)
	}
	stdout.Reset()
	if code := run([]string{"recover", runDir}, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "nothing to remove") {
		t.Fatalf("second recover: exit %d: %s", code, stdout.String())
	}
	lab.Close(ctx)
}

func TestRecoverSaysWhenARemovalFails(t *testing.T) {
	runDir := t.TempDir()
	os.MkdirAll(filepath.Join(runDir, "faults"), 0o755)
	// A journal whose removal names no process group cloudtest may signal.
	line := `{"time":"2026-11-25T10:00:00Z","id":"s/f/1","suite":"s","fault":"f","engine":"local","action":"pod-failure","event":"inject","undo":[{"engine":"local","op":"sigcont","args":{"pgid":"not a number"}}]}` + "\n"
	os.WriteFile(filepath.Join(runDir, "faults", "s.jsonl"), []byte(line), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"recover", runDir}, &stdout, &stderr); code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitRejected, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), `FAILED to remove fault "f"`) {
		t.Fatalf("stdout: %s", stdout.String())
	}
	if code := run([]string{"recover", filepath.Join(runDir, "missing")}, &stdout, &stderr); code != exitUsage {
		t.Fatalf("a missing directory: exit %d", code)
	}
}

func state(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}
