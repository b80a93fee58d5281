package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/testkube"
	"github.com/cloudtest/cloudtest/suites/performance"
)

// kubeLoadSuite is a performance suite against the demo bank in the
// cluster, its load shared by three generators of the given runner.
func kubeLoadSuite(kubeconfig, ns, runnerName, image, duration string) string {
	pods := ""
	if runnerName == "kubernetes" {
		pods = fmt.Sprintf(`
    kubernetes {
      image    = %q
      requests = { cpu = "100m", memory = "64Mi" }
      limits   = { cpu = "1", memory = "256Mi" }
    }`, image)
	}
	return kubeSuite(kubeconfig, ns, fmt.Sprintf(`
variable "token" { sensitive = true }
variable "paths" { default = ["/healthz"] } # untyped: a -var-file that sets it is handed over whole
performance "shared" {
  target = target.bank
  load {
    rate     = 60
    duration = %q
    workers  = 3
    runner   = %q%s
  }
  journey "health" {
    step "health" {
      http {
        path    = var.paths[0]
        headers = { Authorization = "Bearer ${var.token}" }
      }
      expect { status = 200 }
    }
  }
}`, duration, runnerName, pods))
}

const kubeLoadToken = "s3cret-pod-generator-token-77"

func loadSummary(t *testing.T, dir string) result.LoadSummary {
	t.Helper()
	js, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	var rep struct {
		Suites []struct {
			Status  result.Status      `json:"status"`
			Message string             `json:"message"`
			Data    result.LoadSummary `json:"data"`
		} `json:"suites"`
	}
	if err := json.Unmarshal(js, &rep); err != nil || len(rep.Suites) != 1 {
		t.Fatalf("report.json: %v\n%s", err, js)
	}
	return rep.Suites[0].Data
}

func readRaw(t *testing.T, path string) []vegeta.Result {
	t.Helper()
	out, err := performance.ReadRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestALoadFromGeneratorsInTheClusterIsMergedExactly is check (b) and (c)
// of issue 12: the same suite, its load shared by three generators, runs
// with runner = "kubernetes" (an Indexed Job of three pods of this
// checkout's cloudtest, attached over the API server, reaching the bank
// by its Service's name) and with runner = "local" (three processes here,
// through the port-forward). Each time: the requests are exactly the
// schedule's, the rate within 1 % of the target, the merged p50 and p99
// those of the union of the raw results, and no object is left.
func TestALoadFromGeneratorsInTheClusterIsMergedExactly(t *testing.T) {
	c := testkube.Get(t)
	image := c.CloudtestImage(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	for _, runnerName := range []string{"kubernetes", "local"} {
		t.Run(runnerName, func(t *testing.T) {
			suites := t.TempDir()
			os.WriteFile(filepath.Join(suites, "load.hcl"), []byte(kubeLoadSuite(c.Kubeconfig, ns, runnerName, image, "10s")), 0o644)
			// A var file the workers must read too (the pods: from the
			// Secret mounted at /vars): without it they would send to the
			// default path; the raw results' URLs say which they used.
			varFile := filepath.Join(t.TempDir(), "paths.hcl")
			os.WriteFile(varFile, []byte(`paths = ["/healthz?from=var-file"]`+"\n"), 0o644)
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			code := run([]string{"run", "--out", out, "--var", "token=" + kubeLoadToken, "--var-file", varFile, suites}, &stdout, &stderr)
			dir := onlyRunDir(t, out)
			if code != exitOK {
				logs, _ := filepath.Glob(filepath.Join(dir, "load", "*.workers", "*.log"))
				var lb strings.Builder
				for _, l := range logs {
					b, _ := os.ReadFile(l)
					fmt.Fprintf(&lb, "%s:\n%s\n", l, b)
				}
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nworker logs:\n%s\n%s", code, stdout.String(), stderr.String(), lb.String(), c.PodReport(ns))
			}
			ls := loadSummary(t, dir)
			gen := ls.Generator
			if ls.Runner != runnerName || len(ls.Generators) != 3 || gen == nil {
				t.Fatalf("runner %q, generators %+v, generator %+v", ls.Runner, ls.Generators, gen)
			}
			// The schedule of 60/s over 10 s has 600 hits.
			if ls.Overall.Requests != 600 || gen.Due != 600 || gen.Sent != 600 {
				t.Fatalf("%d requests, %d due, %d sent; want 600 of the schedule's 600", ls.Overall.Requests, gen.Due, gen.Sent)
			}
			if math.Abs(gen.AchievedRate-60)/60 > 0.01 {
				t.Fatalf("achieved %.3f/s, want 60/s within 1 %%", gen.AchievedRate)
			}
			for _, g := range ls.Generators {
				wantLoc := "local process "
				if runnerName == "kubernetes" {
					wantLoc = "pod "
				}
				if g.Failed != "" || g.Requests != 200 || g.CPUSeconds <= 0 || !strings.HasPrefix(g.Location, wantLoc) || math.Abs(g.AchievedRate-20)/20 > 0.01 {
					t.Fatalf("generator %+v: want 200 requests at 20/s from a %s with its CPU time", g, wantLoc)
				}
				if runnerName == "kubernetes" && !strings.HasSuffix(g.Location, fmt.Sprintf(", index %d", g.Index-1)) {
					t.Fatalf("generator %d is at %q: want its pod and completion index", g.Index, g.Location)
				}
			}
			r, _ := suiteExperiment(t, dir)
			for _, g := range ls.Generators {
				if line := fmt.Sprintf("generator %d of 3 (%s): 200 requests, 0 errors, 20.00/s", g.Index, g.Location); !strings.Contains(r.Message, line) {
					t.Fatalf("the suite's message does not show %q:\n%s", line, r.Message)
				}
			}
			if html, _ := os.ReadFile(filepath.Join(dir, "report.html")); !bytes.Contains(html, []byte("3 generators (runner "+runnerName+")")) {
				t.Fatalf("report.html does not say that 3 generators ran on runner %s", runnerName)
			}
			raw := readRaw(t, filepath.Join(dir, ls.Raw))
			if len(raw) != 600 {
				t.Fatalf("%d raw results, want 600", len(raw))
			}
			h := hdr.New(1, int64(time.Hour/time.Microsecond), 3)
			seqs := map[uint64]bool{}
			for _, r := range raw {
				h.RecordValue(min(max(r.Latency.Microseconds(), 1), h.HighestTrackableValue()))
				seqs[r.Seq] = true
				if r.Code != 200 || !strings.HasSuffix(r.URL, "/healthz?from=var-file") {
					t.Fatalf("raw result %s %d: want 200 from the var file's path", r.URL, r.Code)
				}
			}
			if len(seqs) != 600 {
				t.Fatalf("%d distinct sequence numbers in the raw results, want 600", len(seqs))
			}
			p50, p99 := float64(h.ValueAtQuantile(50))/1000, float64(h.ValueAtQuantile(99))/1000
			if ls.Overall.LatencyMS.P50 != p50 || ls.Overall.LatencyMS.P99 != p99 {
				t.Fatalf("merged p50 %v ms, p99 %v ms; the union of the raw results gives %v, %v", ls.Overall.LatencyMS.P50, ls.Overall.LatencyMS.P99, p50, p99)
			}
			if objs := c.GeneratorObjects(t, ns); len(objs) != 0 {
				t.Fatalf("objects left after the run: %v", objs)
			}
			// The sensitive variable went over the attach stream, into no file of the run.
			filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() {
					if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(kubeLoadToken)) {
						t.Errorf("%s holds the sensitive token", path)
					}
				}
				return nil
			})
			t.Logf("%s: %d requests at %.3f/s, p50 %.3f ms, p99 %.3f ms; generators %+v", runnerName, ls.Overall.Requests, gen.AchievedRate, p50, p99, ls.Generators)
		})
	}
}

// waitGenerators waits until n generator pods of ns run.
func waitGenerators(t *testing.T, c *testkube.Cluster, ns string, n int, stdout fmt.Stringer) []string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pods := c.RunningGenerators(t, ns)
		if len(pods) == n {
			var names []string
			for _, p := range pods {
				names = append(names, p.Name)
			}
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d generator pods running after 3 minutes:\n%s\n%s", len(pods), n, stdout.String(), c.PodReport(ns))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestAGeneratorPodThatFailsOrIsEvictedIsNamed takes one generator pod
// down while the load runs: evicted (the Eviction API, as a node drain
// does), or its container killed (SIGKILL through the node's containerd,
// as the kernel's OOM killer would). The suite fails, naming the pod, its
// index and the reason from the pod's status and events; the merged
// figures are the two others'; no object is left.
func TestAGeneratorPodThatFailsOrIsEvictedIsNamed(t *testing.T) {
	c := testkube.Get(t)
	image := c.CloudtestImage(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	for _, tt := range []struct {
		name, want string
		index      int
		down       func(t *testing.T, pod corev1.Pod)
	}{
		{"evicted", "was evicted or deleted while it ran: ", 1, func(t *testing.T, pod corev1.Pod) {
			ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns}}
			if err := c.Clientset.CoreV1().Pods(ns).EvictV1(context.Background(), ev); err != nil {
				t.Fatalf("evicting %s: %v", pod.Name, err)
			}
		}},
		{"killed", "did not finish its part: container terminated: Error, exit code 137", 2, func(t *testing.T, pod corev1.Pod) {
			id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
			out, err := exec.Command("ctr", "-n", "k8s.io", "--address", c.ContainerdSocket(), "tasks", "kill", "-s", "SIGKILL", id).CombinedOutput()
			if err != nil {
				t.Fatalf("killing container %s of %s: %v\n%s", id, pod.Name, err, out)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			suites := t.TempDir()
			os.WriteFile(filepath.Join(suites, "load.hcl"), []byte(kubeLoadSuite(c.Kubeconfig, ns, "kubernetes", image, "20s")), 0o644)
			out := t.TempDir()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- run([]string{"run", "--out", out, "--var", "token=" + kubeLoadToken, suites}, &stdout, &stderr)
			}()
			waitGenerators(t, c, ns, 3, &stdout)
			time.Sleep(5 * time.Second) // well into the load
			var victim *corev1.Pod
			for _, p := range c.RunningGenerators(t, ns) {
				if p.Annotations["batch.kubernetes.io/job-completion-index"] == fmt.Sprint(tt.index) {
					victim = &p
				}
			}
			if victim == nil {
				t.Fatalf("no generator pod of index %d:\n%s", tt.index, c.PodReport(ns))
			}
			tt.down(t, *victim)
			var code int
			select {
			case code = <-done:
			case <-time.After(3 * time.Minute):
				t.Fatalf("the run did not end:\n%s", stdout.String())
			}
			dir := onlyRunDir(t, out)
			r, _ := suiteExperiment(t, dir)
			want := fmt.Sprintf("generator %d of 3 (pod %s, index %d) %s", tt.index+1, victim.Name, tt.index, tt.want)
			if code != exitRejected || r.Status != result.Failed || !strings.Contains(r.Message, want) {
				t.Fatalf("exit %d, suite %s; want failed naming %q:\n%s\nstdout:\n%s\nstderr:\n%s", code, r.Status, want, r.Message, stdout.String(), stderr.String())
			}
			ls := loadSummary(t, dir)
			var kept int64
			for _, g := range ls.Generators {
				if g.Index == tt.index+1 {
					if g.Failed == "" {
						t.Fatalf("generator %d is not marked failed: %+v", g.Index, g)
					}
					continue
				}
				kept += g.Requests
			}
			if ls.Overall.Requests != kept || kept == 0 {
				t.Fatalf("merged %d requests, the two others sent %d", ls.Overall.Requests, kept)
			}
			if objs := c.GeneratorObjects(t, ns); len(objs) != 0 {
				t.Fatalf("objects left after the run: %v", objs)
			}
			t.Logf("%s %s: %s", tt.name, victim.Name, strings.SplitN(r.Message, "\n", 2)[0])
		})
	}
}

// TestAnInterruptedOrKilledLoadOnPodsLeavesNoObject ends `cloudtest run`
// while its generator pods send the load: after Ctrl-C it deletes the
// Job, the pods and the ConfigMap itself; after kill -9 they are left,
// and `cloudtest recover` deletes them by the run's labels.
func TestAnInterruptedOrKilledLoadOnPodsLeavesNoObject(t *testing.T) {
	c := testkube.Get(t)
	image := c.CloudtestImage(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			suites := t.TempDir()
			os.WriteFile(filepath.Join(suites, "load.hcl"), []byte(kubeLoadSuite(c.Kubeconfig, ns, "kubernetes", image, "2m")), 0o644)
			// With a var file: the Secret that carries it must go too.
			varFile := filepath.Join(t.TempDir(), "paths.hcl")
			os.WriteFile(varFile, []byte(`paths = ["/healthz?from=var-file"]`+"\n"), 0o644)
			out := t.TempDir()
			cmd := exec.Command(exe, "run", "--out", out, "--var", "token="+kubeLoadToken, "--var-file", varFile, suites) // the test binary acts as cloudtest (TestMain)
			var stdout, stderr syncBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitGenerators(t, c, ns, 3, &stdout)
			time.Sleep(3 * time.Second)
			cmd.Process.Signal(sig)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-exited:
			case <-time.After(2 * time.Minute):
				cmd.Process.Kill()
				t.Fatalf("cloudtest did not stop within 2 minutes of %s:\n%s", sig, stdout.String())
			}
			dir := onlyRunDir(t, out)
			if sig == syscall.SIGKILL {
				if objs := strings.Join(c.GeneratorObjects(t, ns), ", "); !strings.Contains(objs, "Job ") || !strings.Contains(objs, "ConfigMap ") || !strings.Contains(objs, "Secret ") {
					t.Fatalf("after kill -9 the objects left are %q: want the Job, the ConfigMap and the Secret", objs)
				}
				var rec, rerr bytes.Buffer
				if code := run([]string{"recover", dir}, &rec, &rerr); code != exitOK {
					t.Fatalf("recover: exit %d\n%s\n%s", code, rec.String(), rerr.String())
				}
				if !strings.Contains(rec.String(), `removed the load generators of suite "shared" in namespace `+ns+": Job ") || !strings.Contains(rec.String(), ", Secret cloudtest-load-") {
					t.Fatalf("recover said:\n%s", rec.String())
				}
				t.Logf("recover: %s", strings.TrimSpace(rec.String()))
			} else if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
				t.Fatalf("exit %d after Ctrl-C, want %d\n%s\n%s", code, exitInterrupted, stdout.String(), stderr.String())
			} else {
				// Interrupted, the pods stopped their load and handed in what they sent.
				ls := loadSummary(t, dir)
				var sent int64
				for _, g := range ls.Generators {
					if g.Failed != "" || g.Requests == 0 {
						t.Fatalf("generator %+v after Ctrl-C: want it stopped with its results", g)
					}
					sent += g.Requests
				}
				if len(ls.Generators) != 3 || ls.Overall.Requests != sent {
					t.Fatalf("%d generators, %d requests merged of %d sent", len(ls.Generators), ls.Overall.Requests, sent)
				}
				t.Logf("interrupted: %d requests kept from 3 pods", sent)
			}
			if objs := c.GeneratorObjects(t, ns); len(objs) != 0 {
				t.Fatalf("objects left after %s: %v\n%s", sig, objs, stdout.String())
			}
		})
	}
}

// TestAGeneratorImageThatCannotBePulledIsNamed: the pods' image is not in
// the node's containerd and no registry has it; the run does not wait for
// its 2 minutes but fails at once, naming the generator, its pod and the
// kubelet's reason, and leaves nothing behind.
func TestAGeneratorImageThatCannotBePulledIsNamed(t *testing.T) {
	c := testkube.Get(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "load.hcl"), []byte(kubeLoadSuite(c.Kubeconfig, ns, "kubernetes", "docker.io/local/cloudtest:no-such-image", "5s")), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	began := time.Now()
	code := run([]string{"run", "--out", out, "--var", "token=" + kubeLoadToken, suites}, &stdout, &stderr)
	took := time.Since(began)
	r, _ := suiteExperiment(t, onlyRunDir(t, out))
	if code == exitOK || r.Status == result.Passed || !strings.Contains(r.Message, "of 3 (pod cloudtest-load-") || !strings.Contains(r.Message, "cannot start: ErrImagePull") && !strings.Contains(r.Message, "cannot start: ImagePullBackOff") {
		t.Fatalf("exit %d, suite %s: %s\nstdout:\n%s\nstderr:\n%s", code, r.Status, r.Message, stdout.String(), stderr.String())
	}
	if objs := c.GeneratorObjects(t, ns); len(objs) != 0 {
		t.Fatalf("objects left after the run: %v", objs)
	}
	t.Logf("after %s: %s", took.Round(time.Second), r.Message)
}

// documentedRole is the Role of docs/kubernetes.md ("RBAC: what cloudtest
// needs in the namespace"), as the page gives it.
func documentedRole(t *testing.T) *rbacv1.Role {
	t.Helper()
	doc, err := os.ReadFile("../../docs/kubernetes.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "## RBAC: what cloudtest needs in the namespace")
	if !ok {
		t.Fatal("docs/kubernetes.md has no RBAC section")
	}
	_, block, ok := strings.Cut(after, "```yaml\n")
	block, _, ok2 := strings.Cut(block, "```")
	if !ok || !ok2 {
		t.Fatal("the RBAC section has no yaml block")
	}
	var role rbacv1.Role
	if err := sigsyaml.UnmarshalStrict([]byte(block), &role); err != nil || role.Kind != "Role" {
		t.Fatalf("the documented Role does not parse: %v\n%s", err, block)
	}
	return &role
}

// TestTheDocumentedRoleIsEnoughForGeneratorPods runs the load on
// generator pods as a service account that has only the Role of
// docs/kubernetes.md in the namespace (no cluster role, no admin): the
// Job, the pods, their attach streams, the ConfigMap and the Secret of a
// var file are all created and deleted with those verbs, and so is the
// port-forward to the target.
func TestTheDocumentedRoleIsEnoughForGeneratorPods(t *testing.T) {
	c := testkube.Get(t)
	image := c.CloudtestImage(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	ctx := context.Background()
	role := documentedRole(t)
	role.Namespace = ns
	if _, err := c.Clientset.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "qa", Namespace: ns}}
	if _, err := c.Clientset.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "qa", Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "qa", Namespace: ns}}}
	if _, err := c.Clientset.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hour := int64(3600)
	tok, err := c.Clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "qa", &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &hour}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cluster := admin.Clusters[admin.Contexts[admin.CurrentContext].Cluster]
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = cluster
	kc.AuthInfos["qa"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	kc.Contexts["qa"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "qa", Namespace: ns}
	kc.CurrentContext = "qa"
	kubeconfig := filepath.Join(t.TempDir(), "qa.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, kubeconfig); err != nil {
		t.Fatal(err)
	}
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "load.hcl"), []byte(kubeLoadSuite(kubeconfig, ns, "kubernetes", image, "5s")), 0o644)
	varFile := filepath.Join(t.TempDir(), "paths.hcl")
	os.WriteFile(varFile, []byte(`paths = ["/healthz?from=var-file"]`+"\n"), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--out", out, "--var", "token=" + kubeLoadToken, "--var-file", varFile, suites}, &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("exit %d as a service account with the documented Role\nstdout:\n%s\nstderr:\n%s\n%s", code, stdout.String(), stderr.String(), c.PodReport(ns))
	}
	ls := loadSummary(t, onlyRunDir(t, out))
	if ls.Overall.Requests != 300 || len(ls.Generators) != 3 {
		t.Fatalf("%d requests from %d generators, want 300 from 3", ls.Overall.Requests, len(ls.Generators))
	}
	if objs := c.GeneratorObjects(t, ns); len(objs) != 0 {
		t.Fatalf("objects left after the run: %v", objs)
	}
}

// TestAURLOnlyTheClusterReachesGetsItsLoadFromPods: a url target at the
// bank's in-cluster name, which this machine cannot even resolve, with the
// generator pods' namespace and kubeconfig in the load's kubernetes
// block: the coordinator never connects to it, the pods send the whole load.
func TestAURLOnlyTheClusterReachesGetsItsLoadFromPods(t *testing.T) {
	c := testkube.Get(t)
	image := c.CloudtestImage(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	suites := t.TempDir()
	os.WriteFile(filepath.Join(suites, "load.hcl"), []byte(fmt.Sprintf(`
target "bank" { url = "http://bank.%s.svc" }
performance "in-cluster" {
  target = target.bank
  load {
    rate     = 30
    duration = "5s"
    workers  = 3
    runner   = "kubernetes"
    kubernetes {
      image      = %q
      namespace  = %q
      kubeconfig = %q
      requests   = { cpu = "100m" }
    }
  }
  journey "health" {
    step "health" {
      http { path = "/healthz" }
      expect { status = 200 }
    }
  }
}`, ns, image, ns, c.Kubeconfig)), 0o644)
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"run", "--out", out, suites}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\n%s", code, stdout.String(), stderr.String(), c.PodReport(ns))
	}
	dir := onlyRunDir(t, out)
	ls := loadSummary(t, dir)
	if ls.Overall.Requests != 150 || len(ls.Generators) != 3 || ls.Overall.Errors != 0 {
		t.Fatalf("%d requests (%d errors) from %d generators, want 150 from 3", ls.Overall.Requests, ls.Overall.Errors, len(ls.Generators))
	}
	if objs := c.GeneratorObjects(t, ns); len(objs) != 0 {
		t.Fatalf("objects left after the run: %v", objs)
	}
}
