package target

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
)

// With a relative --out the run directory is relative to where cloudtest
// was started, while the process runs in the suite directory: {workdir}
// must still be the run directory's, not a path under the suite directory.
func TestARelativeWorkDirIsTheRunDirectorysNotTheSuiteDirectorys(t *testing.T) {
	cwd := t.TempDir()
	suites := t.TempDir()
	t.Chdir(cwd)
	spec := &config.Process{Command: []string{"sh", "-c", "echo here > {workdir}/marker && exec sleep 30"}, Restart: "never"}
	sup, err := StartProcess(context.Background(), "svc", spec, Options{BaseDir: suites, WorkDir: filepath.Join("out", "run-1", "targets")})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Stop()
	want := filepath.Join(cwd, "out", "run-1", "targets", "svc", "marker")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(want); err == nil {
			break
		}
		if time.Now().After(deadline) {
			misplaced, _ := filepath.Glob(filepath.Join(suites, "out", "*", "*", "*", "marker"))
			log, _ := os.ReadFile(filepath.Join(cwd, "out", "run-1", "targets", "svc.log"))
			t.Fatalf("no %s after 5 s (under the suite directory: %v); the process said: %s", want, misplaced, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
