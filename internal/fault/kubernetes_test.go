package fault

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/target"
	"github.com/cloudtest/cloudtest/internal/testkube"
)

func kubeTargets(kubeconfig, ns string) string {
	return fmt.Sprintf(`
target "bank" {
  kubernetes {
    namespace  = %q
    service    = "bank"
    kubeconfig = %q
  }
}
target "pods" {
  kubernetes {
    namespace = %q
    selector  = { app = "bank", tier = "web" }
    port      = 8080
    container = "bank"
  }
}
`, ns, kubeconfig, ns)
}

func TestAFaultOnAKubernetesTargetIsAPodChaosInItsNamespace(t *testing.T) {
	t.Parallel()
	specs, diags := load(t, kubeTargets("/nowhere/kubeconfig", "payments")+`
chaos "c" {
  target = target.pods
  fault "kill" {
    action = "pod-kill"
    mode   = "fixed"
    value  = 2
  }
}
`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	pc := specs[0].Object.(*v1alpha1.PodChaos)
	if specs[0].Engine != "kubernetes" || pc.Namespace != "payments" || !slices.Equal(pc.Spec.Selector.Namespaces, []string{"payments"}) ||
		pc.Spec.Selector.LabelSelectors["tier"] != "web" || pc.Spec.Mode != v1alpha1.FixedMode || pc.Spec.Value != "2" {
		t.Fatalf("engine %q, object %+v", specs[0].Engine, pc)
	}
}

func TestTheKubernetesEngineRefusesWhatItCannotCarryOut(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ fault, want string }{
		{`fault "lag" {
    action  = "delay"
    latency = "100ms"
  }`, `faults.hcl:29,15-22: Action not available on this engine; The kubernetes engine cannot carry out action "delay"; it can carry out pod-kill, pod-failure, container-kill, partition, bandwidth, cpu. delay, loss and corrupt (the kernel's netem qdisc)`},
		{`fault "hog" {
    action   = "memory"
    size     = "64MB"
    duration = "1m"
  }`, `faults.hcl:29,16-24: Action not available on this engine; The kubernetes engine cannot carry out action "memory"`},
		{`fault "k" {
    action = "pod-kill"
    mode   = "fixed-percent"
  }`, `faults.hcl:30,14-29: Missing required attribute; Mode "fixed-percent" needs value`},
		{`fault "k" {
    action = "pod-kill"
    value  = 3
  }`, `faults.hcl:30,5-10: Attribute does not apply; The attribute "value" is the number or percentage of pods for mode`},
		{`fault "k" {
    action = "pod-kill"
    mode   = "fixed"
    value  = "lots"
  }`, `faults.hcl:31,14-20: Chaos Mesh refuses the fault; Chaos Mesh's validation says: spec.value: Invalid value: "lots": parse value field error`},
		{`fault "k" {
    action = "pod-kill"
    engine = "kubernetes"
    target = target.web
  }`, `faults.hcl:28,3-12: Target is not in Kubernetes`},
	} {
		_, diags := load(t, kubeTargets("/k", "ns")+`
chaos "c" {
  target = target.bank
  `+tc.fault+`
}
`)
		if !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("got  %s\nwant %s", diags.Error(), tc.want)
		}
	}
}

// kubeLab decodes one chaos suite against the cluster's demo bank and opens
// its lab, as the reliability suite does.
func kubeLab(t *testing.T, c *testkube.Cluster, ns, faults string) (*Lab, []*Spec, *target.Instance, string) {
	t.Helper()
	specs, diags := load(t, kubeTargets(c.Kubeconfig, ns)+"chaos \"drill\" {\n  target = target.bank\n"+faults+"\n}\n")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	k, err := target.StartKube(context.Background(), "bank", &config.Kubernetes{Namespace: ns, Service: "bank", Kubeconfig: c.Kubeconfig, Scheme: "http"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	inst := &target.Instance{Name: "bank", URL: k.URL(), Kube: k}
	runDir := filepath.Join(t.TempDir(), "20261201-220000-abcd")
	lab, err := Open(context.Background(), "drill", specs, map[string]*target.Instance{"bank": inst}, JournalPath(runDir, "drill"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		lab.Close(ctx)
	})
	return lab, specs, inst, runDir
}

func bankPods(t *testing.T, c *testkube.Cluster, ns string) []corev1.Pod {
	return c.Pods(t, ns, "app=bank")
}

func readyPod(t *testing.T, c *testkube.Cluster, ns string, not string) string {
	for _, p := range bankPods(t, c, ns) {
		if p.Name == not || p.DeletionTimestamp != nil {
			continue
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
				return p.Name
			}
		}
	}
	return ""
}

func TestPodKillOnKubernetesReplacesThePodAndLeavesNoObject(t *testing.T) {
	t.Parallel()
	c := testkube.Get(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	lab, specs, _, runDir := kubeLab(t, c, ns, `
  fault "kill" {
    action       = "pod-kill"
    mode         = "one"
    grace_period = 0
  }`)
	old := readyPod(t, c, ns, "")
	ctx := context.Background()
	asked := time.Now()
	if err := lab.Inject(ctx, specs[0]); err != nil {
		t.Fatalf("%v\n%s", err, c.PodReport(ns))
	}
	done := time.Now()
	at, ok := lab.InjectedAt(specs[0])
	if !ok || at.Before(asked) || at.After(done) {
		t.Fatalf("injected at %v (known %v), asked %v, answered %v", at, ok, asked, done)
	}
	objs := c.ChaosObjects(t, ns)
	if len(objs) != 1 || !strings.HasPrefix(objs[0], "kill-") {
		t.Fatalf("PodChaos objects while injected: %v", objs)
	}
	u, err := c.Dynamic.Resource(testkube.PodChaos).Namespace(ns).Get(ctx, objs[0], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := u.GetLabels(); l[LabelRun] != "20261201-220000-abcd" || l[LabelSuite] != "drill" || l[LabelManagedBy] != "cloudtest" {
		t.Fatalf("labels %v", l)
	}
	deadline := time.Now().Add(90 * time.Second)
	var replacement string
	for replacement == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no new ready pod 90 s after the kill of %s\n%s", old, c.PodReport(ns))
		}
		time.Sleep(200 * time.Millisecond)
		replacement = readyPod(t, c, ns, old)
	}
	if err := lab.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if objs := c.ChaosObjects(t, ns); len(objs) != 0 {
		t.Fatalf("PodChaos objects after Close: %v", objs)
	}
	b, _ := os.ReadFile(JournalPath(runDir, "drill"))
	for _, ev := range []string{`"event":"intent"`, `"event":"inject"`, `"event":"remove"`} {
		if !strings.Contains(string(b), ev) {
			t.Fatalf("journal lacks %s:\n%s", ev, b)
		}
	}
	t.Logf("pod %s killed, replaced by %s; injection recorded %.0f ms after the request", old, replacement, float64(at.Sub(asked).Microseconds())/1000)
}

func containerImage(t *testing.T, c *testkube.Cluster, ns, pod string) (string, int32) {
	p, err := c.Clientset.CoreV1().Pods(ns).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var restarts int32
	for _, s := range p.Status.ContainerStatuses {
		restarts += s.RestartCount
	}
	return p.Spec.Containers[0].Image, restarts
}

func TestPodFailureOnKubernetesSwapsTheImageUntilRemoved(t *testing.T) {
	t.Parallel()
	c := testkube.Get(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	lab, specs, inst, _ := kubeLab(t, c, ns, `
  fault "freeze" {
    action   = "pod-failure"
    duration = "5m"
  }`)
	pod := readyPod(t, c, ns, "")
	ctx := context.Background()
	if err := lab.Inject(ctx, specs[0]); err != nil {
		t.Fatalf("%v\n%s", err, c.PodReport(ns))
	}
	if img, _ := containerImage(t, c, ns, pod); img == testkube.DemobankImage {
		t.Fatalf("pod %s still runs %s during the pod-failure", pod, img)
	}
	// The Service has no ready pod: the target does not answer.
	deadline := time.Now().Add(30 * time.Second)
	for len(inst.Kube.ReadyPods()) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the target still has ready pods %v during the pod-failure", inst.Kube.ReadyPods())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := lab.Remove(ctx, specs[0]); err != nil {
		t.Fatal(err)
	}
	if objs := c.ChaosObjects(t, ns); len(objs) != 0 {
		t.Fatalf("PodChaos objects after the removal: %v", objs)
	}
	if img, _ := containerImage(t, c, ns, pod); img != testkube.DemobankImage {
		t.Fatalf("pod %s runs %s after the removal, want %s", pod, img, testkube.DemobankImage)
	}
	c.WaitDeployment(t, ns, "bank", 90*time.Second)
}

// TestTheWebhooksRefusalIsReportedOnTheFaultsLine sends the cluster a spec
// that Chaos Mesh's admission webhook refuses. cloudtest validates specs
// with the same code first, so the spec is altered after decoding, as when
// the cluster runs a stricter Chaos Mesh than the one cloudtest was built
// with.
func TestTheWebhooksRefusalIsReportedOnTheFaultsLine(t *testing.T) {
	t.Parallel()
	c := testkube.Get(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	lab, specs, _, runDir := kubeLab(t, c, ns, `
  fault "some" {
    action = "pod-kill"
    mode   = "fixed"
    value  = 1
  }`)
	specs[0].Object.(*v1alpha1.PodChaos).Spec.Value = "many"
	err := lab.Inject(context.Background(), specs[0])
	line := fmt.Sprintf("faults.hcl:%d", specs[0].DeclRange.Start.Line)
	if err == nil || !strings.Contains(err.Error(), line) || !strings.Contains(err.Error(), "Chaos Mesh's admission webhook refused fault \"some\"") ||
		!strings.Contains(err.Error(), "parse value field error") {
		t.Fatalf("got %v, want the webhook's refusal on %s", err, line)
	}
	if objs := c.ChaosObjects(t, ns); len(objs) != 0 {
		t.Fatalf("objects after a refusal: %v", objs)
	}
	if n, err := Recover(context.Background(), runDir, &strings.Builder{}); n != 0 || err != nil {
		t.Fatalf("recover after a refusal: %d %v", n, err)
	}
}

// TestRecoverDeletesTheObjectsOfACrashedRun leaves a pod-failure injected
// (the lab is dropped, as by kill -9) and shows recover deleting it by its
// labels and the pod getting its image back.
func TestRecoverDeletesTheObjectsOfACrashedRun(t *testing.T) {
	t.Parallel()
	c := testkube.Get(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	specs, diags := load(t, kubeTargets(c.Kubeconfig, ns)+`
chaos "drill" {
  target = target.bank
  fault "freeze" {
    action   = "pod-failure"
    duration = "10m"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	k, err := target.StartKube(context.Background(), "bank", &config.Kubernetes{Namespace: ns, Service: "bank", Kubeconfig: c.Kubeconfig, Scheme: "http"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	runDir := filepath.Join(t.TempDir(), "20261201-230000-dead")
	lab, err := Open(context.Background(), "drill", specs, map[string]*target.Instance{"bank": {Name: "bank", Kube: k}}, JournalPath(runDir, "drill"))
	if err != nil {
		t.Fatal(err)
	}
	pod := readyPod(t, c, ns, "")
	if err := lab.Inject(context.Background(), specs[0]); err != nil {
		t.Fatal(err)
	}
	// No Close: the run "crashed".
	if objs := c.ChaosObjects(t, ns); len(objs) != 1 {
		t.Fatalf("objects: %v", objs)
	}
	var out strings.Builder
	n, err := Recover(context.Background(), runDir, &out)
	if err != nil || n != 1 || !strings.Contains(out.String(), `removed fault "freeze" (pod-failure, kubernetes engine) of suite "drill"`) {
		t.Fatalf("recover: %d %v\n%s", n, err, out.String())
	}
	if objs := c.ChaosObjects(t, ns); len(objs) != 0 {
		t.Fatalf("objects after recover: %v", objs)
	}
	if img, _ := containerImage(t, c, ns, pod); img != testkube.DemobankImage {
		t.Fatalf("pod %s runs %s after recover", pod, img)
	}
	c.WaitDeployment(t, ns, "bank", 90*time.Second)
}
