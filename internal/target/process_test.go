package target

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
)

// When the test binary runs with CLOUDTEST_TEST_SERVE_PORT set it becomes a
// small HTTP server: the supervised process of these tests.
func TestMain(m *testing.M) {
	if port := os.Getenv("CLOUDTEST_TEST_SERVE_PORT"); port != "" {
		http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ok %d", os.Getpid())
		})
		if os.Getenv("CLOUDTEST_TEST_EXIT_AT_ONCE") != "" {
			fmt.Println("failing on purpose")
			os.Exit(3)
		}
		fmt.Println("serving on", port)
		http.ListenAndServe("127.0.0.1:"+port, nil)
		os.Exit(0)
	}
	os.Exit(runRemovingImages(m))
}

func selfProcess(t *testing.T, restart string, env map[string]string) *config.Process {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := map[string]string{"CLOUDTEST_TEST_SERVE_PORT": "{port}"}
	for k, v := range env {
		e[k] = v
	}
	return &config.Process{
		Command: []string{exe, "-test.run=^$"}, Env: e, URL: "http://127.0.0.1:{port}",
		Ready: "/healthz", ReadyTimeout: 10 * time.Second, Restart: restart,
	}
}

func get(t *testing.T, url string) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b [64]byte
	n, _ := resp.Body.Read(b[:])
	return string(b[:n]), nil
}

func TestProcessIsStartedWhenReadyAndStopped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sup, err := StartProcess(context.Background(), "svc", selfProcess(t, "never", nil), Options{BaseDir: dir, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	body, err := get(t, sup.URL+"/healthz")
	if err != nil || !strings.HasPrefix(body, "ok ") {
		t.Fatalf("GET /healthz = %q, %v", body, err)
	}
	pid := sup.Pid()
	if err := sup.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("process %d still runs after Stop", pid)
	}
	if log, _ := os.ReadFile(filepath.Join(dir, "svc.log")); !strings.Contains(string(log), "serving on") {
		t.Fatalf("the process output is not in its log: %q", log)
	}
}

func TestKilledProcessIsRestartedWhenPolicyIsAlways(t *testing.T) {
	dir := t.TempDir()
	sup, err := StartProcess(context.Background(), "svc", selfProcess(t, "always", nil), Options{BaseDir: dir, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Stop()
	first := sup.Pid()
	if err := sup.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := get(t, sup.URL+"/healthz")
		if err == nil && body != fmt.Sprintf("ok %d", first) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted within 10s (last: %q, %v)", body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if sup.Restarts() != 1 {
		t.Fatalf("restarts = %d, want 1", sup.Restarts())
	}
}

func TestKillKeepsAProcessDownWhateverItsPolicy(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sup, err := StartProcess(context.Background(), "svc", selfProcess(t, "always", nil), Options{BaseDir: dir, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Stop()
	if err := sup.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // well past the pause before a restart
	if sup.Pid() != 0 || sup.Restarts() != 0 {
		t.Fatalf("pid %d, restarts %d after Kill", sup.Pid(), sup.Restarts())
	}
	if _, err := get(t, sup.URL+"/healthz"); err == nil {
		t.Fatal("the killed process answered")
	}
	if err := sup.Kill(); err != nil {
		t.Fatalf("Kill of a process already down: %v", err)
	}
}

func TestProcessThatExitsBeforeReadyIsAnErrorWithItsOutput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := StartProcess(context.Background(), "svc", selfProcess(t, "never", map[string]string{"CLOUDTEST_TEST_EXIT_AT_ONCE": "1"}), Options{BaseDir: dir, WorkDir: dir})
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "failing on purpose") {
		t.Fatalf("err = %v, want an early exit with the process output", err)
	}
}

func TestStoppedProcessCanStillBeStopped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sup, err := StartProcess(context.Background(), "svc", selfProcess(t, "never", nil), Options{BaseDir: dir, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pid := sup.Pid()
	sup.Signal(syscall.SIGSTOP)
	done := make(chan struct{})
	go func() { sup.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop hung on a stopped (SIGSTOP) process")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("process %d still runs", pid)
	}
}
