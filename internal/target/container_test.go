package target

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/testdb"
)

// runRemovingImages runs the tests with images of this test binary alone,
// removed at the end (TestMain is in process_test.go).
func runRemovingImages(m *testing.M) int {
	ImagePrefix = fmt.Sprintf("cloudtest-test-target-%d", os.Getpid())
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if err := RemoveImages(ctx, ImagePrefix); err != nil {
		fmt.Fprintln(os.Stderr, "removing test images:", err)
		if code == 0 {
			code = 1
		}
	}
	cancel()
	return code
}

// needDocker fails in CI and skips elsewhere when no Docker engine answers.
func needDocker(t *testing.T) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := DockerClient(ctx)
	if err == nil {
		if _, err = cli.Ping(ctx, client.PingOptions{}); err == nil {
			t.Cleanup(func() { cli.Close() })
			return cli.Client
		}
	}
	testdb.Unavailable(t, fmt.Sprintf("no Docker engine: %v", err))
	return nil
}

func startTarget(t *testing.T, tc *config.Target) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := t.TempDir()
	inst, err := Start(ctx, tc, Options{BaseDir: work, WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := inst.Stop(); err != nil {
			t.Error(err)
		}
	})
	return inst
}

func getContainer(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTheDemoBankRunsAsAContainerAndLeavesNothingBehind(t *testing.T) {
	cli := needDocker(t)
	ctx := context.Background()
	tc := &config.Target{Name: "bank", Container: &config.Container{
		Embedded: "demobank", Ports: []string{"8080"}, Wait: "/healthz", WaitTimeout: time.Minute, Restart: "never",
	}}
	work := t.TempDir()
	inst, err := Start(ctx, tc, Options{BaseDir: work, WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			inst.Stop()
		}
	})
	c := inst.Container
	if c == nil || c.ID == "" || c.Network == "" || c.NetworkID == "" || !strings.HasPrefix(inst.URL, "http://127.0.0.1:") {
		t.Fatalf("instance %+v, container %+v", inst, c)
	}
	if code, body := getContainer(t, inst.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz answered %d %s", code, body)
	}
	info, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := info.Container.NetworkSettings.Networks[c.Network]; !ok {
		t.Fatalf("container is on %v, want %s", info.Container.NetworkSettings.Networks, c.Network)
	}

	// A kill and a start keep the URL: the host port is fixed.
	if _, err := cli.ContainerKill(ctx, c.ID, client.ContainerKillOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitReady(ctx, inst.URL+"/healthz", 30*time.Second, nil); err != nil {
		t.Fatalf("after kill and start: %v", err)
	}

	stopped = true
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{}); err == nil {
		t.Error("the container still exists after Stop")
	}
	if _, err := cli.NetworkInspect(ctx, c.NetworkID, client.NetworkInspectOptions{}); err == nil {
		t.Error("the network still exists after Stop")
	}
	log, err := os.ReadFile(filepath.Join(work, "bank.log"))
	if err != nil || strings.Count(string(log), "demobank listening") != 2 {
		t.Errorf("the log should hold both starts: %q (%v)", log, err)
	}
}

func TestTheDemoBankContainerTakesItsOptions(t *testing.T) {
	t.Parallel()
	needDocker(t)
	inst := startTarget(t, &config.Target{Name: "slow bank", Container: &config.Container{
		Embedded: "demobank", Ports: []string{"8080"}, Wait: "/healthz", WaitTimeout: time.Minute, Restart: "always",
	}, EmbeddedOptions: config.EmbeddedOptions{Insecure: true, SlowPaths: map[string]time.Duration{"/healthz": 300 * time.Millisecond}}})
	// --insecure serves /admin/users without a login.
	if code, _ := getContainer(t, inst.URL+"/admin/users"); code != 200 {
		t.Fatalf("/admin/users answered %d, want 200 with --insecure", code)
	}
	start := time.Now()
	getContainer(t, inst.URL+"/healthz")
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("the slow path answered in %s, want at least 300ms", d)
	}
}

// tinyServer is a FROM-scratch image's whole program: it answers its name.
const tinyServer = `package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "tiny ", os.Getenv("GREETING")) })
	http.ListenAndServe(":9000", nil)
}
`

func TestAUserBuildDirectoryRunsAsAContainer(t *testing.T) {
	t.Parallel()
	needDocker(t)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":     "module tiny\n\ngo 1.22\n",
		"main.go":    tinyServer,
		"Dockerfile": "FROM scratch\nCOPY tiny /tiny\nENTRYPOINT [\"/tiny\"]\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", "tiny", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the tiny server: %v\n%s", err, out)
	}
	if static, err := isStatic(filepath.Join(dir, "tiny")); err != nil || !static {
		t.Fatalf("the tiny server should be static: %v %v", static, err)
	}
	tc := &config.Target{Name: "tiny", Container: &config.Container{
		Build: dir, Ports: []string{"9000/tcp"}, Env: map[string]string{"GREETING": "hello"}, Wait: "/", WaitTimeout: time.Minute, Restart: "never",
	}}
	inst := startTarget(t, tc)
	if code, body := getContainer(t, inst.URL+"/"); code != 200 || body != "tiny hello" {
		t.Fatalf("answered %d %q", code, body)
	}
	if !strings.HasPrefix(inst.Container.Image, ImagePrefix+"-build-tiny:") {
		t.Fatalf("image %q is not named by its digest", inst.Container.Image)
	}
	// The same directory reuses the image it built.
	again := startTarget(t, tc)
	if again.Container.Image != inst.Container.Image || again.URL == inst.URL {
		t.Fatalf("second start: image %q url %s; first: %q %s", again.Container.Image, again.URL, inst.Container.Image, inst.URL)
	}
}

func TestADynamicallyLinkedProgramIsNotStatic(t *testing.T) {
	t.Parallel()
	// The tiny server above is the static case; /bin/ls of the distribution
	// asks for the dynamic loader.
	static, err := isStatic("/bin/ls")
	if err != nil || static {
		t.Fatalf("isStatic(/bin/ls) = %v, %v", static, err)
	}
}

// A container echoes what it was given, secrets included: its log in the
// run directory goes through the run's redactor, as a process's does.
func TestAContainersLogIsRedacted(t *testing.T) {
	t.Parallel()
	needDocker(t)
	const secret = "Tr0ub4dor&3/xK+9=ab"
	dir := t.TempDir()
	echoing := strings.Replace(tinyServer, "func main() {\n", "func main() {\n\tfmt.Println(\"started with\", os.Getenv(\"GREETING\"))\n", 1)
	for name, content := range map[string]string{
		"go.mod":     "module tiny\n\ngo 1.22\n",
		"main.go":    echoing,
		"Dockerfile": "FROM scratch\nCOPY tiny /tiny\nENTRYPOINT [\"/tiny\"]\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-o", "tiny", ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the tiny server: %v\n%s", err, out)
	}
	tc := &config.Target{Name: "tiny", Container: &config.Container{
		Build: dir, Ports: []string{"9000/tcp"}, Env: map[string]string{"GREETING": secret}, Wait: "/", WaitTimeout: time.Minute, Restart: "never",
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := t.TempDir()
	redact := func(s string) string { return strings.ReplaceAll(s, secret, "[REDACTED]") }
	inst, err := Start(ctx, tc, Options{BaseDir: work, WorkDir: work, Redact: redact, Longest: len(secret)})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(work, "tiny.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || !strings.Contains(string(b), "started with [REDACTED]") {
		t.Fatalf("the container's log reads:\n%s", b)
	}
}
