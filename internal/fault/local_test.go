package fault

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"

	"github.com/cloudtest/cloudtest/internal/target"
)

// specNamed decodes src and returns its fault called name.
func specNamed(t *testing.T, src, name string) *Spec {
	t.Helper()
	specs, diags := load(t, src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, s := range specs {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no fault %q", name)
	return nil
}

func openLab(t *testing.T, specs []*Spec, targets map[string]*target.Instance) (*Lab, string) {
	t.Helper()
	dir := t.TempDir()
	path := JournalPath(dir, "suite")
	lab, err := Open(context.Background(), "suite", specs, targets, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lab.Close(context.Background()) })
	return lab, path
}

// medianLatency times n GETs of url and returns the median.
func medianLatency(t *testing.T, c *http.Client, url string, n int) time.Duration {
	t.Helper()
	var ds []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[n/2]
}

func TestLatencyThroughTheProxyMatchesTheFault(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	spec := specNamed(t, `
chaos "slow" {
  target = target.web
  fault "lag" {
    action  = "delay"
    latency = "100ms"
  }
}`, "lag")
	lab, _ := openLab(t, []*Spec{spec}, map[string]*target.Instance{"web": {Name: "web", URL: srv.URL}})
	if lab.URL("web") == srv.URL || !strings.HasPrefix(lab.URL("web"), "http://127.0.0.1:") {
		t.Fatalf("the target is not reached through a proxy: %s", lab.URL("web"))
	}
	c := &http.Client{Timeout: 5 * time.Second}
	before := medianLatency(t, c, lab.URL("web"), 15)
	if err := lab.Inject(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	during := medianLatency(t, c, lab.URL("web"), 15)
	if err := lab.Remove(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	after := medianLatency(t, c, lab.URL("web"), 15)
	t.Logf("median before %v, during a 100ms delay %v, after %v", before, during, after)
	// Toxiproxy's latency is exact; what is left is scheduling.
	if added := during - before; added < 95*time.Millisecond || added > 110*time.Millisecond {
		t.Errorf("the delay added %v, want 100ms within a few ms (-5, +10)", added)
	}
	if after > before+30*time.Millisecond {
		t.Errorf("after removal the median is %v, before it was %v", after, before)
	}
}

func TestPartitionMakesRequestsFailAndRemovalRestoresThem(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	spec := specNamed(t, `
chaos "cut" {
  target = target.web
  fault "cut" { action = "partition" }
}`, "cut")
	lab, journalPath := openLab(t, []*Spec{spec}, map[string]*target.Instance{"web": {Name: "web", URL: srv.URL}})
	c := &http.Client{Timeout: time.Second}
	get := func() error {
		resp, err := c.Get(lab.URL("web"))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(); err != nil {
		t.Fatalf("before the fault: %v", err)
	}
	if err := lab.Inject(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := get(); err == nil {
			t.Fatal("a request succeeded during the partition")
		}
	}
	if err := lab.Remove(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if err := get(); err != nil {
		t.Fatalf("after removal: %v", err)
	}
	if err := lab.Remove(context.Background(), spec); err != nil {
		t.Fatalf("removing a fault that is not active: %v", err)
	}
	lab.Close(context.Background())
	if err := lab.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	events := journalEvents(t, journalPath)
	if strings.Join(events, ",") != "inject,remove" {
		t.Fatalf("journal events %v", events)
	}
}

func journalEvents(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		if r.Time.IsZero() || r.Suite == "" || r.Fault == "" || r.Engine == "" || r.Action == "" {
			t.Fatalf("incomplete journal record %+v", r)
		}
		events = append(events, r.Event)
	}
	return events
}

// ping GETs url with a short timeout and returns the body.
func ping(url string, timeout time.Duration) (string, error) {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestPodFailureStopsAProcessForTheDurationOfTheFault(t *testing.T) {
	t.Parallel()
	inst, err := startServer(context.Background(), t.TempDir(), "never")
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	spec := specNamed(t, `
chaos "freeze" {
  target = target.svc
  fault "freeze" {
    action   = "pod-failure"
    duration = "2s"
  }
}`, "freeze")
	lab, journalPath := openLab(t, []*Spec{spec}, map[string]*target.Instance{"svc": inst})
	if _, err := ping(inst.URL, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := lab.Inject(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := ping(inst.URL, 500*time.Millisecond); err == nil {
		t.Fatal("the stopped process answered")
	}
	if state := procState(inst.Process.Pid()); state != "T" {
		t.Fatalf("process state %q, want T (stopped)", state)
	}
	if err := lab.Remove(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := ping(inst.URL, 2*time.Second); err != nil {
		t.Fatalf("after SIGCONT: %v", err)
	}
	// The freeze's removal is journalled before the SIGSTOP (intent).
	if got := journalEvents(t, journalPath); strings.Join(got, ",") != "intent,inject,remove" {
		t.Fatalf("journal events %v", got)
	}
}

// procState is the state letter of a process in /proc (R, S, T…).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
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

func TestPodKillRestartsTheProcessWhenItsPolicySaysAlways(t *testing.T) {
	inst, err := startServer(context.Background(), t.TempDir(), "always")
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	spec := specNamed(t, `
chaos "kill" {
  target = target.svc
  fault "kill" { action = "pod-kill" }
}`, "kill")
	lab, _ := openLab(t, []*Spec{spec}, map[string]*target.Instance{"svc": inst})
	first, err := ping(inst.URL, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := lab.Inject(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		body, err := ping(inst.URL, 500*time.Millisecond)
		if err == nil && body != first {
			t.Logf("before: %q, after the kill: %q", first, body)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new process answered within 15s (last: %q, %v)", body, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if inst.Process.Restarts() != 1 {
		t.Fatalf("restarts %d", inst.Process.Restarts())
	}
	if got := lab.Active(); len(got) != 0 {
		t.Fatalf("a one-shot fault stays active: %v", got)
	}
}

func TestContainerKillLeavesTheProcessDown(t *testing.T) {
	t.Parallel()
	inst, err := startServer(context.Background(), t.TempDir(), "always")
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	spec := specNamed(t, `
chaos "kill" {
  target = target.svc
  fault "gone" { action = "container-kill" }
}`, "gone")
	lab, _ := openLab(t, []*Spec{spec}, map[string]*target.Instance{"svc": inst})
	if err := lab.Inject(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // longer than the supervisor's pause before a restart
	if pid := inst.Process.Pid(); pid != 0 || inst.Process.Restarts() != 0 {
		t.Fatalf("the process came back: pid %d, restarts %d", pid, inst.Process.Restarts())
	}
	if _, err := ping(inst.URL, 500*time.Millisecond); err == nil {
		t.Fatal("the killed process answered")
	}
}

func TestRecoverContinuesAProcessThatACrashedRunLeftStopped(t *testing.T) {
	// When a run dies, its stopped process would otherwise be reparented
	// to init, and the kernel sends an orphaned process group that holds a
	// stopped process SIGHUP and SIGCONT, undoing the fault itself. Under a
	// subreaper (as under a CI runner or a service manager) the process
	// stays stopped, which is the case recover is for.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Fatalf("prctl: %v", errno)
	}
	defer syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 0, 0)
	dir := t.TempDir()
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "CLOUDTEST_TEST_CRASH_DIR="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var url string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "pid %d url %s", &pid, &url); err == nil {
			break
		}
		t.Log(sc.Text())
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the crashing run did not inject its fault")
	}
	// Whatever happens, the server must not outlive the test.
	t.Cleanup(func() {
		syscall.Kill(-pid, syscall.SIGCONT)
		syscall.Kill(-pid, syscall.SIGKILL)
		var ws syscall.WaitStatus
		syscall.Wait4(pid, &ws, 0, nil) // ours to reap, as its subreaper
	})

	cmd.Process.Kill() // the crash: no Close, no removal
	cmd.Wait()
	if state := procState(pid); state != "T" {
		t.Fatalf("after the crash the server's state is %q, want T (stopped)", state)
	}
	if _, err := ping(url, 500*time.Millisecond); err == nil {
		t.Fatal("the stopped server answered")
	}

	var log strings.Builder
	n, err := Recover(context.Background(), dir, &log)
	if err != nil || n != 1 {
		t.Fatalf("Recover: %d removals, %v\n%s", n, err, log.String())
	}
	if !strings.Contains(log.String(), `removed fault "freeze" (pod-failure, local engine) of suite "crashing suite"`) {
		t.Errorf("Recover's account: %s", log.String())
	}
	if body, err := ping(url, 2*time.Second); err != nil || body != fmt.Sprintf("ok %d", pid) {
		t.Fatalf("after recover the server answers %q, %v", body, err)
	}
	journal := JournalPath(dir, "crashing suite")
	if got := journalEvents(t, journal); strings.Join(got, ",") != "intent,inject,remove" {
		t.Fatalf("journal events %v", got)
	}
	// A second recover finds nothing left to do.
	if n, err := Recover(context.Background(), dir, io.Discard); n != 0 || err != nil {
		t.Fatalf("second Recover: %d, %v", n, err)
	}
}

func TestStressRunsForItsDurationAndStopsWhenRemoved(t *testing.T) {
	specs, diags := load(t, `
chaos "stress" {
  target = target.web
  fault "hot" {
    action   = "cpu"
    workers  = 1
    duration = "20s"
  }
  fault "fat" {
    action   = "memory"
    size     = "64MB"
    duration = "20s"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	lab, _ := openLab(t, specs, nil)
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0 := cpu()
	if err := lab.Inject(context.Background(), specs[0]); err != nil {
		t.Fatal(err)
	}
	// One busy worker burns CPU as fast as it is scheduled: 200 ms of it
	// within a second on an idle core, later on a machine shared with
	// other builds (it is the CPU used that shows the stress, not how
	// soon).
	for start := time.Now(); cpu()-c0 < 200*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("one CPU worker used %v of CPU in 10 s", cpu()-c0)
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapAlloc
	if err := lab.Inject(context.Background(), specs[1]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.ReadMemStats(&ms)
		// 64 MB is 61 MiB; garbage collected meanwhile shrinks the
		// difference a little.
		if ms.HeapAlloc >= heap0+55<<20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the heap grew by %d bytes only", ms.HeapAlloc-heap0)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := lab.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Close waits for the workers, so nothing burns CPU any more.
	c1 := cpu()
	time.Sleep(500 * time.Millisecond)
	if used := cpu() - c1; used > 250*time.Millisecond {
		t.Errorf("after Close the process still used %v of CPU in 500ms", used)
	}
	if got := lab.Active(); len(got) != 0 {
		t.Fatalf("active after Close: %v", got)
	}
}

func TestRateUnitsBecomeKilobytesPerSecond(t *testing.T) {
	t.Parallel()
	for rate, want := range map[string]int64{"8mbit": 1000, "1mbps": 1000, "100kbps": 100, "1bps": 1, "1gbit": 125000} {
		if got, err := rateKBps(rate); err != nil || got != want {
			t.Errorf("%s: %d KB/s, %v; want %d", rate, got, err, want)
		}
	}
}

const prSetChildSubreaper = 36

func TestAnUpstreamProxyListensWhereTheTargetExpectsItsDependency(t *testing.T) {
	dep := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "db") }))
	defer dep.Close()
	listen := freeAddr(t)
	spec := specNamed(t, fmt.Sprintf(`
chaos "db" {
  target = target.web
  fault "slow db" {
    action    = "delay"
    latency   = "80ms"
    direction = "from"
    upstream  = %q
    listen    = %q
  }
}`, strings.TrimPrefix(dep.URL, "http://"), listen), "slow db")
	lab, _ := openLab(t, []*Spec{spec}, map[string]*target.Instance{"web": {Name: "web", URL: "http://127.0.0.1:1"}})
	if lab.URL("web") != "http://127.0.0.1:1" {
		t.Fatalf("a fault on a dependency changed the target's URL: %s", lab.URL("web"))
	}
	c := &http.Client{Timeout: 5 * time.Second}
	before := medianLatency(t, c, "http://"+listen, 9)
	if err := lab.Inject(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	during := medianLatency(t, c, "http://"+listen, 9)
	t.Logf("through the dependency's proxy: %v before, %v during an 80ms delay on requests", before, during)
	if added := during - before; added < 75*time.Millisecond || added > 90*time.Millisecond {
		t.Errorf("the delay added %v, want 80ms within a few ms (-5, +10)", added)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestAbortAndFullLossMakeRequestsFail(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	specs, diags := load(t, `
chaos "broken" {
  target = target.web
  fault "abort" { action = "abort" }
  fault "loss" {
    action = "loss"
    loss   = 100
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	lab, _ := openLab(t, specs, map[string]*target.Instance{"web": {Name: "web", URL: srv.URL}})
	for _, s := range specs {
		if _, err := ping(lab.URL("web"), time.Second); err != nil {
			t.Fatalf("before %s: %v", s.Name, err)
		}
		if err := lab.Inject(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if body, err := ping(lab.URL("web"), time.Second); err == nil {
			t.Fatalf("during %s a request got %q", s.Name, body)
		}
		if err := lab.Remove(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		if _, err := ping(lab.URL("web"), time.Second); err != nil {
			t.Fatalf("after %s: %v", s.Name, err)
		}
	}
}

func TestBandwidthSlowsATransfer(t *testing.T) {
	payload := strings.Repeat("x", 300_000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, payload) }))
	defer srv.Close()
	spec := specNamed(t, `
chaos "thin" {
  target = target.web
  fault "thin" {
    action = "bandwidth"
    rate   = "1mbps"
    limit  = 100
    buffer = 10000
  }
}`, "thin")
	lab, _ := openLab(t, []*Spec{spec}, map[string]*target.Instance{"web": {Name: "web", URL: srv.URL}})
	if err := lab.Inject(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	body, err := ping(lab.URL("web"), 10*time.Second)
	took := time.Since(start)
	if err != nil || len(body) != len(payload) {
		t.Fatalf("transfer: %d bytes, %v", len(body), err)
	}
	// 300 KB at 1000 KB/s takes 300ms; unlimited, a few milliseconds.
	t.Logf("300 KB at 1 MB/s took %v", took)
	if took < 200*time.Millisecond {
		t.Errorf("300 KB went through in %v; the bandwidth fault did not hold it back", took)
	}
}

func TestCloseRemovesEveryActiveFault(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	inst, err := startServer(context.Background(), t.TempDir(), "never")
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Stop()
	specs, diags := load(t, `
chaos "many" {
  target = target.web
  fault "lag" {
    action  = "delay"
    latency = "50ms"
  }
  fault "cut" { action = "partition" }
  fault "freeze" {
    action = "pod-failure"
    target = target.svc
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	lab, journalPath := openLab(t, specs, map[string]*target.Instance{"web": {Name: "web", URL: srv.URL}, "svc": inst})
	for _, s := range specs {
		if err := lab.Inject(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	if err := lab.Inject(context.Background(), specs[0]); err == nil {
		t.Fatal("a fault was injected twice")
	}
	if got := lab.Active(); strings.Join(got, ",") != "lag,cut,freeze" {
		t.Fatalf("active %v", got)
	}
	if err := lab.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lab.Active(); len(got) != 0 {
		t.Fatalf("active after Close: %v", got)
	}
	if _, err := ping(inst.URL, 2*time.Second); err != nil {
		t.Fatalf("the process still stopped after Close: %v", err)
	}
	if got := journalEvents(t, journalPath); strings.Join(got, ",") != "inject,inject,intent,inject,remove,remove,remove" {
		t.Fatalf("journal events %v", got)
	}
	if n, err := Recover(context.Background(), filepath.Dir(journalPath), io.Discard); n != 0 || err != nil {
		t.Fatalf("Recover after a clean Close: %d, %v", n, err)
	}
	if err := lab.Inject(context.Background(), specs[0]); err == nil {
		t.Fatal("Inject after Close succeeded")
	}
}

func TestProcessSignalIsAPhysicalMachineChaosThatTheLocalEngineSends(t *testing.T) {
	spec := specNamed(t, `
chaos "term" {
  target = target.svc
  fault "term" {
    action = "process"
    signal = 15
  }
}`, "term")
	pm, ok := spec.Object.(*v1alpha1.PhysicalMachineChaos)
	if !ok || spec.Kind != "PhysicalMachineChaos" || !spec.OneShot() {
		t.Fatalf("spec %+v", spec)
	}
	if pm.Spec.Action != v1alpha1.PMProcessAction || pm.Spec.Process.Signal != 15 || pm.Spec.Process.Process != "svc" ||
		pm.Spec.Selector.LabelSelectors["app"] != "svc" {
		t.Fatalf("object %+v", pm.Spec)
	}
	b, err := spec.YAML()
	if err != nil || !strings.Contains(string(b), "kind: PhysicalMachineChaos") || !strings.Contains(string(b), "signal: 15") {
		t.Fatalf("YAML %v:\n%s", err, b)
	}

	for _, c := range []struct{ name, src, want string }{
		{"without a signal", `action = "process"`, `needs the attribute "signal"`},
		{"with a signal that is none", "action = \"process\"\n    signal = 99", `between 1 and 64`},
		{"on the docker engine", "action = \"process\"\n    signal = 15\n    engine = \"docker\"", `The docker engine cannot carry out action "process"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := load(t, "chaos \"bad\" {\n  target = target.svc\n  fault \"f\" {\n    "+c.src+"\n  }\n}")
			if !diags.HasErrors() || !strings.Contains(diags.Error(), c.want) {
				t.Fatalf("want %q, got %v", c.want, diags)
			}
		})
	}

	for _, restart := range []string{"always", "never"} {
		t.Run("SIGTERM with restart "+restart, func(t *testing.T) {
			inst, err := startServer(context.Background(), t.TempDir(), restart)
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Stop()
			lab, _ := openLab(t, []*Spec{spec}, map[string]*target.Instance{"svc": inst})
			first, err := ping(inst.URL, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := lab.Inject(context.Background(), spec); err != nil {
				t.Fatal(err)
			}
			if got := lab.Active(); len(got) != 0 {
				t.Fatalf("a one-shot fault stays active: %v", got)
			}
			deadline := time.Now().Add(15 * time.Second)
			for {
				body, err := ping(inst.URL, 500*time.Millisecond)
				if restart == "never" && err != nil && inst.Process.Pid() == 0 {
					break // terminated, and left down
				}
				if restart == "always" && err == nil && body != first && inst.Process.Restarts() == 1 {
					break // terminated, and a new process answers
				}
				if time.Now().After(deadline) {
					t.Fatalf("after SIGTERM: answer %q, %v, pid %d, restarts %d", body, err, inst.Process.Pid(), inst.Process.Restarts())
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}

	t.Run("the signal is the one the block names: SIGSTOP freezes, SIGCONT thaws", func(t *testing.T) {
		inst, err := startServer(context.Background(), t.TempDir(), "never")
		if err != nil {
			t.Fatal(err)
		}
		defer inst.Stop()
		stop := specNamed(t, "chaos \"s\" {\n  target = target.svc\n  fault \"stop\" {\n    action = \"process\"\n    signal = 19\n  }\n}", "stop")
		cont := specNamed(t, "chaos \"s\" {\n  target = target.svc\n  fault \"cont\" {\n    action = \"process\"\n    signal = 18\n  }\n}", "cont")
		lab, _ := openLab(t, []*Spec{stop, cont}, map[string]*target.Instance{"svc": inst})
		first, err := ping(inst.URL, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if own := fmt.Sprintf("ok %d", inst.Process.Pid()); first != own {
			t.Fatalf("%s is answered by another process (%q), not the target's %q", inst.URL, first, own)
		}
		if err := lab.Inject(context.Background(), stop); err != nil {
			t.Fatal(err)
		}
		if body, err := ping(inst.URL, 500*time.Millisecond); err == nil {
			t.Fatalf("a stopped process answered %q", body)
		}
		if err := lab.Inject(context.Background(), cont); err != nil {
			t.Fatal(err)
		}
		if body, err := ping(inst.URL, 2*time.Second); err != nil || body != first {
			t.Fatalf("after SIGCONT: %q, %v; want the same process's %q", body, err, first)
		}
	})
}

func TestDiskFillAllocatesItsFileUntilRemovedAndRecoverDeletesALeftOne(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "fill")
	block := func(attrs string) string {
		return "chaos \"full\" {\n  target = target.web\n  fault \"full\" {\n    action = \"disk-fill\"\n    duration = \"1m\"\n    " + attrs + "\n  }\n}"
	}
	spec := specNamed(t, block(fmt.Sprintf("size = \"8M\"\n    path = %q", path)), "full")
	pm, ok := spec.Object.(*v1alpha1.PhysicalMachineChaos)
	if !ok || spec.Kind != "PhysicalMachineChaos" || spec.OneShot() || pm.Spec.Action != v1alpha1.PMDiskFillAction ||
		pm.Spec.DiskFill == nil || pm.Spec.DiskFill.Size != "8M" || pm.Spec.DiskFill.Path != path || *pm.Spec.Duration != "1m0s" {
		t.Fatalf("spec %+v, object %+v", spec, pm)
	}
	if b, err := spec.YAML(); err != nil || !strings.Contains(string(b), "disk-fill:") || !strings.Contains(string(b), "size: 8M") {
		t.Fatalf("YAML %v:\n%s", err, b)
	}

	for _, c := range []struct{ name, src, want string }{
		{"without a size", fmt.Sprintf("path = %q", path), `needs the attribute "size"`},
		{"without a path", `size = "8M"`, `needs the attribute "path"`},
		{"with a size that is none", fmt.Sprintf("size = \"8X\"\n    path = %q", path), `a size in dd's units`},
		{"with a relative path", "size = \"8M\"\n    path = \"fill\"", `absolute path`},
		{"on the docker engine", fmt.Sprintf("size = \"8M\"\n    path = %q\n    engine = \"docker\"", path), `The docker engine cannot carry out action "disk-fill"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := load(t, block(c.src))
			if !diags.HasErrors() || !strings.Contains(diags.Error(), c.want) {
				t.Fatalf("want %q, got %v", c.want, diags)
			}
		})
	}

	lab, journal := openLab(t, []*Spec{spec}, nil)
	if err := lab.Inject(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 8<<20 || st.Blocks*512 < 8<<20 {
		t.Fatalf("the fill is %d bytes long and takes %d on the disk, want 8 MiB of both", st.Size, st.Blocks*512)
	}
	if got := lab.Active(); !slices.Equal(got, []string{"full"}) {
		t.Fatalf("active %v", got)
	}
	if err := lab.Remove(context.Background(), spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("after the removal the fill is still there: %v", err)
	}
	if got := journalEvents(t, journal); strings.Join(got, ",") != "inject,remove" {
		t.Fatalf("journal events %v", got)
	}

	t.Run("a file already there is refused and kept", func(t *testing.T) {
		os.WriteFile(path, []byte("the user's"), 0o600)
		defer os.Remove(path)
		lab, _ := openLab(t, []*Spec{spec}, nil)
		if err := lab.Inject(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "file exists") {
			t.Fatalf("want a refusal of the existing file, got %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "the user's" || len(lab.Active()) != 0 {
			t.Fatalf("the file holds %q, active %v", b, lab.Active())
		}
	})
	t.Run("more than the disk holds leaves no file", func(t *testing.T) {
		huge := specNamed(t, block(fmt.Sprintf("size = \"1000000000G\"\n    path = %q", path)), "full")
		lab, _ := openLab(t, []*Spec{huge}, nil)
		if err := lab.Inject(context.Background(), huge); err == nil || !strings.Contains(err.Error(), "filling "+path) {
			t.Fatalf("want the fill refused by the disk, got %v", err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("a failed fill left its file: %v", err)
		}
	})
	t.Run("recover deletes the fill of a run that did not remove it", func(t *testing.T) {
		run := t.TempDir()
		lab, err := Open(context.Background(), "suite", []*Spec{spec}, nil, JournalPath(run, "suite"))
		if err != nil {
			t.Fatal(err)
		}
		if err := lab.Inject(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
		// No Remove, no Close: what a crash leaves. The fill is a file,
		// which outlives the process that made it.
		var log strings.Builder
		if n, err := Recover(context.Background(), run, &log); err != nil || n != 1 {
			t.Fatalf("Recover: %d removals, %v\n%s", n, err, log.String())
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("after recover the fill is still there: %v", err)
		}
	})
}
