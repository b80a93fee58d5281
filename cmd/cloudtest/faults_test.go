package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A suite whose faults of every engine are active at once for a minute:
// the supervised process frozen (local), a toxiproxy delay in front of it
// (local), and the container target paused (docker).
const allEnginesSuite = `
target "proc" {
  process {
    command = ["{cloudtest}", "demo", "--listen", "127.0.0.1:{port}"]
    url     = "http://127.0.0.1:{port}"
    ready   = "/healthz"
  }
}
target "everything-box" {
  container { embedded = "demobank" }
}
reliability "everything-at-once" {
  target   = target.proc
  duration = "70s"
  probe {
    http { path = "/healthz" }
  }
  fault "slow" {
    action   = "delay"
    latency  = "300ms"
    after    = "200ms"
    duration = "1m"
  }
  fault "frozen" {
    action   = "pod-failure"
    after    = "400ms"
    duration = "1m"
  }
  fault "paused" {
    action   = "pod-failure"
    engine   = "docker"
    target   = target.everything-box
    after    = "600ms"
    duration = "1m"
  }
}
`

type journalRecord struct {
	ID, Fault, Event string
	Undo             []struct {
		Op   string
		Args map[string]string
	}
}

func TestCtrlCAndSIGTERMRemoveTheFaultsOfEveryEngine(t *testing.T) {
	// A static cloudtest serves both as the process target and, copied
	// into a FROM-scratch image, as the container target.
	bin := filepath.Join(t.TempDir(), "cloudtest")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "faults.hcl"), []byte(allEnginesSuite), 0o644)

	// start runs the suite and returns once every fault is injected.
	start := func(t *testing.T, out string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
		cmd := exec.Command(bin, "run", "--out", out, suites)
		cmd.Env = append(os.Environ(), "TESTCONTAINERS_RYUK_DISABLED=true")
		var stdout, stderr syncBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(3 * time.Minute)
		for !strings.Contains(stdout.String(), `fault "paused" (pod-failure) injected`) {
			if time.Now().After(deadline) || cmd.ProcessState != nil {
				cmd.Process.Kill()
				t.Fatalf("the faults were never all injected:\n%s\n%s", stdout.String(), stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return cmd, &stdout, &stderr
	}
	// leftBehind lists what the run in dir left: only its own containers and
	// networks, so that another run of this test on the same engine does not
	// count.
	leftBehind := func(t *testing.T, dir string, what ...string) string {
		args := append(what, "--filter", "label=cloudtest.target=everything-box",
			"--filter", "label=cloudtest.run_dir="+dir)
		left, err := exec.Command("docker", args...).Output()
		if err != nil {
			t.Fatalf("docker %s: %v", what[0], err)
		}
		return strings.TrimSpace(string(left))
	}

	t.Run("killed", func(t *testing.T) {
		// kill -9: nothing can be removed by cloudtest itself; recover
		// must unpause the container and remove it and its network.
		out := t.TempDir()
		cmd, _, _ := start(t, out)
		cmd.Process.Kill()
		cmd.Wait()
		dir := onlyRunDir(t, out)
		if got := leftBehind(t, dir, "ps", "-a", "--format", "{{.State}}"); got != "paused" {
			t.Fatalf("after kill -9 the container is %q, want paused", got)
		}
		var stdout, stderr strings.Builder
		if code := run([]string{"recover", dir}, &stdout, &stderr); code != exitOK {
			t.Fatalf("recover: exit %d\n%s\n%s", code, stdout.String(), stderr.String())
		}
		for _, want := range []string{"removed container", "removed network"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("recover said:\n%s\nwant %q", stdout.String(), want)
			}
		}
		if got := leftBehind(t, dir, "ps", "-a", "--format", "{{.Names}}") + leftBehind(t, dir, "network", "ls", "--format", "{{.Name}}"); got != "" {
			t.Fatalf("left after recover: %q", got)
		}
		// The supervised process lost its supervisor: end its group (the
		// journal names it; recover continued it, so SIGTERM works).
		b, _ := os.ReadFile(filepath.Join(dir, "faults", "everything-at-once.jsonl"))
		for _, line := range strings.Split(string(b), "\n") {
			var r struct {
				Undo []struct {
					Op   string
					Args map[string]string
				}
			}
			json.Unmarshal([]byte(line), &r)
			for _, u := range r.Undo {
				if pgid, err := strconv.Atoi(u.Args["pgid"]); err == nil && u.Op == "sigcont" && pgid > 1 {
					syscall.Kill(-pgid, syscall.SIGKILL)
				}
			}
		}
	})

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			out := t.TempDir()
			cmd, stdoutp, stderrp := start(t, out)
			stdout, stderr := stdoutp, stderrp
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("cloudtest did not stop within 60s of %s:\n%s", sig, stdout.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
				t.Fatalf("exit %d, want 130\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
			}
			dir := onlyRunDir(t, out)

			// The journal has a removal for every injection, each by id.
			f, err := os.Open(filepath.Join(dir, "faults", "everything-at-once.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			injected, removed := map[string]string{}, map[string]bool{}
			pgid := 0
			for sc := bufio.NewScanner(f); sc.Scan(); {
				var r journalRecord
				json.Unmarshal(sc.Bytes(), &r)
				switch r.Event {
				case "inject":
					injected[r.ID] = r.Fault
					for _, u := range r.Undo {
						if u.Op == "sigcont" {
							pgid, _ = strconv.Atoi(u.Args["pgid"])
						}
					}
				case "remove":
					removed[r.ID] = true
				}
			}
			if len(injected) != 3 {
				t.Fatalf("injected %v, want slow, frozen and paused", injected)
			}
			for id, name := range injected {
				if !removed[id] {
					t.Errorf("fault %q (%s) has no removal in the journal", name, id)
				}
			}
			// Nothing is left for `cloudtest recover` to do.
			rec := exec.Command(bin, "recover", dir)
			if b, err := rec.CombinedOutput(); err != nil || !strings.Contains(strings.ToLower(string(b)), "nothing") {
				t.Errorf("recover after a clean interrupt: %v\n%s", err, b)
			}
			// The container and its network are gone; so is the process
			// that was frozen (continued, then stopped with its target).
			if got := leftBehind(t, dir, "ps", "-a", "--format", "{{.Names}}") + leftBehind(t, dir, "network", "ls", "--format", "{{.Name}}"); got != "" {
				t.Errorf("left behind: %q", got)
			}
			if pgid <= 1 {
				t.Fatalf("the journal names no frozen process group")
			}
			if err := syscall.Kill(-pgid, 0); err != syscall.ESRCH {
				t.Errorf("the frozen process group %d is still there (%v)", pgid, err)
			}
			if !strings.Contains(stdout.String(), "interrupted") && !strings.Contains(stderr.String(), "interrupted") {
				t.Logf("output:\n%s", stdout.String())
			}
		})
	}
}
