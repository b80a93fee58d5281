package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// holdsOpen reports whether process pid has path open.
func holdsOpen(pid int, path string) bool {
	fds, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "fd", "*"))
	for _, fd := range fds {
		if target, err := os.Readlink(fd); err == nil && target == path {
			return true
		}
	}
	return false
}

// SIGTERM while a large evidence file is being digested stops the run at
// once: before, the signal only cancelled the (finished) suites and the
// digest of a 64 GiB file went on for minutes.
func TestSIGTERMDuringTheEvidenceIsHonouredWithinTwoSeconds(t *testing.T) {
	bin := buildCLI(t)
	suites := t.TempDir()
	big := filepath.Join(suites, "huge.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64 << 30); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	os.WriteFile(filepath.Join(suites, "main.hcl"), []byte(`
deployment {
  mode = "community"
  component "mobile-channel" {
    layers = ["saas"]
    vendor = "acme-cloud"
  }
}
target "demo" { embedded = "demobank" }
functional "mobile-smoke" {
  component = "mobile-channel"
  target    = target.demo
  step "health" {
    http { path = "/healthz" }
    expect { status = 200 }
  }
}
evidence "certification" {
  component = "mobile-channel"
  kind      = "certification"
  file      = "huge.bin"
  sha256    = "0000000000000000000000000000000000000000000000000000000000000000"
  covers {
    categories = ["functional"]
    layers     = ["saas"]
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
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for !holdsOpen(cmd.Process.Pid, big) {
		select {
		case <-done:
			t.Fatalf("cloudtest ended before it read the evidence:\n%s\n%s", stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("cloudtest never opened the evidence file:\n%s\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	sent := time.Now()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("cloudtest did not stop within 30s of SIGTERM:\n%s\n%s", stdout.String(), stderr.String())
	}
	if took := time.Since(sent); took > 2*time.Second {
		t.Fatalf("cloudtest took %s to stop after SIGTERM", took)
	}
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Fatalf("exit %d, want 130\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
}
