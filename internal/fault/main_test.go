package fault

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/target"
)

// The test binary doubles as the processes these tests act on:
// CLOUDTEST_TEST_SERVE_PORT makes it a small HTTP server (a supervised
// target), CLOUDTEST_TEST_CRASH_DIR a cloudtest that injects a fault and
// is then killed before it can remove it.
func TestMain(m *testing.M) {
	if port := os.Getenv("CLOUDTEST_TEST_SERVE_PORT"); port != "" {
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ok %d", os.Getpid())
		})
		http.ListenAndServe("127.0.0.1:"+port, nil)
		os.Exit(0)
	}
	if dir := os.Getenv("CLOUDTEST_TEST_CRASH_DIR"); dir != "" {
		os.Exit(injectAndHang(dir))
	}
	os.Exit(m.Run())
}

// injectAndHang starts a supervised server, stops it with a pod-failure
// fault, prints the server's pid and waits to be killed.
func injectAndHang(dir string) int {
	ctx := context.Background()
	inst, err := startServer(ctx, dir, "never")
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	spec := &Spec{Name: "freeze", Action: "pod-failure", Kind: "PodChaos", Engine: "local", Target: inst.Name}
	lab, err := Open(ctx, "crashing suite", []*Spec{spec}, map[string]*target.Instance{inst.Name: inst}, JournalPath(dir, "crashing suite"))
	if err != nil {
		fmt.Println("error:", err)
		return 1
	}
	if err := lab.Inject(ctx, spec); err != nil {
		fmt.Println("error:", err)
		return 1
	}
	fmt.Printf("pid %d url %s\n", inst.Process.Pid(), inst.URL)
	time.Sleep(time.Minute) // killed long before
	return 2
}

func serverProcess(restart string) *config.Process {
	exe, _ := os.Executable()
	return &config.Process{
		Command: []string{exe, "-test.run=^$"}, Env: map[string]string{"CLOUDTEST_TEST_SERVE_PORT": "{port}"},
		URL: "http://127.0.0.1:{port}", Ready: "/", ReadyTimeout: 10 * time.Second, Restart: restart,
	}
}

// startServer starts the test binary as a supervised server target "svc".
func startServer(ctx context.Context, dir, restart string) (*target.Instance, error) {
	work := filepath.Join(dir, "targets")
	os.MkdirAll(work, 0o755)
	return target.Start(ctx, &config.Target{Name: "svc", Process: serverProcess(restart)}, target.Options{BaseDir: dir, WorkDir: work})
}
