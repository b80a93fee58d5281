// Package testkube gives tests the real Kubernetes cluster that
// `bash .ci/kube.sh up` starts: its kubeconfig, a namespace of their own
// and the demo bank deployed in it. Without the cluster a test fails in CI
// (CI=true) and is skipped elsewhere, saying what to run first.
package testkube

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cloudtest/cloudtest/internal/testdb"
)

// EnvKubeconfig names the variable that points the tests at the cluster's
// kubeconfig; DefaultKubeconfig is where .ci/kube.sh writes it.
const (
	EnvKubeconfig     = "CLOUDTEST_KUBECONFIG"
	DefaultKubeconfig = "/var/lib/cloudtest-k8s/admin.kubeconfig"
	// DemobankImage is the demo bank image .ci/kube.sh loads into the
	// cluster's containerd (built from the checkout it runs in).
	DemobankImage = "docker.io/local/cloudtest-demobank:ci"
)

// Cluster is the test cluster.
type Cluster struct {
	Kubeconfig string
	Clientset  kubernetes.Interface
	Dynamic    dynamic.Interface
}

// PodChaos is the resource of Chaos Mesh's PodChaos objects.
var PodChaos = schema.GroupVersionResource{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "podchaos"}

// Get returns the cluster, or fails (CI) or skips (elsewhere) the test.
func Get(t testing.TB) *Cluster {
	t.Helper()
	path := os.Getenv(EnvKubeconfig)
	if path == "" {
		path = DefaultKubeconfig
	}
	missing := func(why string) {
		testdb.Unavailable(t, fmt.Sprintf("this test needs the Kubernetes cluster of .ci/kube.sh (%s): run `sudo bash .ci/kube.sh up` first "+
			"(it writes %s; set %s to use another kubeconfig), and `sudo bash .ci/kube.sh down` after", why, DefaultKubeconfig, EnvKubeconfig))
	}
	if _, err := os.Stat(path); err != nil {
		missing("no kubeconfig at " + path)
		return nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		missing(err.Error())
		return nil
	}
	rc.Timeout = 20 * time.Second
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		missing(err.Error())
		return nil
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		missing(err.Error())
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
		missing("its API server does not answer: " + err.Error())
		return nil
	}
	return &Cluster{Kubeconfig: path, Clientset: cs, Dynamic: dyn}
}

// Namespace creates a namespace for the test, deleted when it ends.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("ct-%s-%d", shortName(t.Name()), time.Now().UnixNano()%1_000_000)
	ctx := context.Background()
	if _, err := c.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		grace := int64(0)
		c.Clientset.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	})
	return name
}

func shortName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	n := b.String()
	if len(n) > 30 {
		n = n[len(n)-30:]
	}
	return n
}

// ReadyDelaySeconds is how long a demo bank pod waits before its first
// readiness probe.
const ReadyDelaySeconds = 2

// DeployDemobank deploys the demo bank as Deployment and Service "bank"
// (label app=bank, port 80 → 8080) with the given replicas, and waits until
// they are all ready. The pods have no volume: a re-created pod starts with
// no data. Their token key comes from a Secret, as a bank would mount it,
// so tokens outlive a pod.
func (c *Cluster) DeployDemobank(t testing.TB, ns string, replicas int32) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{"app": "bank"}
	grace := int64(1)
	key := make([]byte, 32)
	rand.Read(key)
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bank-session", Namespace: ns}, Data: map[string][]byte{"key": key}}
	if _, err := c.Clientset.CoreV1().Secrets(ns).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bank", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers: []corev1.Container{{
						Name: "bank", Image: DemobankImage, ImagePullPolicy: corev1.PullNever,
						Args:         []string{"demo", "--listen", ":8080", "--data", "/data", "--session-key-file", "/secrets/key"},
						Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						VolumeMounts: []corev1.VolumeMount{{Name: "session", MountPath: "/secrets", ReadOnly: true}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
							// A new pod is ready no sooner than ReadyDelay after
							// it starts (a bank warming up), so that a killed
							// pod's successor cannot take over before the old
							// one is gone: the outage is certain and the RTO
							// holds the re-creation and this delay.
							InitialDelaySeconds: ReadyDelaySeconds, PeriodSeconds: 1, FailureThreshold: 1,
						},
					}},
					Volumes: []corev1.Volume{{Name: "session", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "bank-session"}}}},
				},
			},
		},
	}
	if _, err := c.Clientset.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "bank", Namespace: ns},
		Spec: corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{
			Name: "http", Port: 80, TargetPort: intstr.FromString("http")}}},
	}
	if _, err := c.Clientset.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.WaitDeployment(t, ns, "bank", 120*time.Second)
}

// WaitDeployment waits until every replica of the Deployment is ready.
func (c *Cluster) WaitDeployment(t testing.TB, ns, name string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, err := c.Clientset.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && d.Spec.Replicas != nil && d.Status.ObservedGeneration >= d.Generation &&
			d.Status.ReadyReplicas == *d.Spec.Replicas && d.Status.UpdatedReplicas == *d.Spec.Replicas && d.Status.Replicas == *d.Spec.Replicas {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment %s/%s not ready after %s: %v %+v\n%s", ns, name, timeout, err, d.Status, c.PodReport(ns))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Pods names the pods of app=bank (or the given selector) that exist, with
// their phase and readiness, for assertions and failure messages.
func (c *Cluster) Pods(t testing.TB, ns, selector string) []corev1.Pod {
	t.Helper()
	l, err := c.Clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

// PodReport describes the pods of a namespace and their recent events.
func (c *Cluster) PodReport(ns string) string {
	var b strings.Builder
	ctx := context.Background()
	if l, err := c.Clientset.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, p := range l.Items {
			fmt.Fprintf(&b, "pod %s phase=%s deleting=%v", p.Name, p.Status.Phase, p.DeletionTimestamp != nil)
			for _, s := range p.Status.ContainerStatuses {
				fmt.Fprintf(&b, " %s(ready=%v restarts=%d image=%s)", s.Name, s.Ready, s.RestartCount, s.Image)
			}
			b.WriteString("\n")
		}
	}
	if l, err := c.Clientset.CoreV1().Events(ns).List(ctx, metav1.ListOptions{}); err == nil {
		for _, e := range l.Items {
			fmt.Fprintf(&b, "event %s %s/%s %s: %s\n", e.Type, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message)
		}
	}
	return b.String()
}

// ChaosKinds are the resources of the Chaos Mesh objects cloudtest creates.
var ChaosKinds = []schema.GroupVersionResource{PodChaos,
	{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "networkchaos"},
	{Group: "chaos-mesh.org", Version: "v1alpha1", Resource: "stresschaos"}}

// ChaosObjects lists the PodChaos, NetworkChaos and StressChaos objects left in ns.
func (c *Cluster) ChaosObjects(t testing.TB, ns string) []string {
	t.Helper()
	var names []string
	for _, gvr := range ChaosKinds {
		l, err := c.Dynamic.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		if l != nil {
			for _, it := range l.Items {
				names = append(names, it.GetName())
			}
		}
	}
	return names
}

// PodCPU is the CPU time the pod's containers have used, and when the
// kubelet measured it, as the kubelet's summary (read through the API
// server) reports it. The kubelet refreshes the figure every few seconds.
func (c *Cluster) PodCPU(t testing.TB, ns, pod string) (time.Duration, time.Time) {
	t.Helper()
	ctx := context.Background()
	p, err := c.Clientset.CoreV1().Pods(ns).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.Clientset.CoreV1().RESTClient().Get().Resource("nodes").Name(p.Spec.NodeName).
		SubResource("proxy").Suffix("stats/summary").DoRaw(ctx)
	if err != nil {
		t.Fatalf("the kubelet's summary of node %s: %v", p.Spec.NodeName, err)
	}
	var sum struct {
		Pods []struct {
			PodRef struct{ Name, Namespace string } `json:"podRef"`
			CPU    struct {
				Time                 time.Time `json:"time"`
				UsageCoreNanoSeconds *uint64   `json:"usageCoreNanoSeconds"`
			} `json:"cpu"`
		} `json:"pods"`
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		t.Fatal(err)
	}
	for _, ps := range sum.Pods {
		if ps.PodRef.Name == pod && ps.PodRef.Namespace == ns && ps.CPU.UsageCoreNanoSeconds != nil {
			return time.Duration(*ps.CPU.UsageCoreNanoSeconds), ps.CPU.Time
		}
	}
	t.Fatalf("the kubelet's summary has no CPU figure for pod %s/%s", ns, pod)
	return 0, time.Time{}
}

// PodCPURate is the share of one core the pod used over at least window,
// between two of the kubelet's measurements both taken after since.
func (c *Cluster) PodCPURate(t testing.TB, ns, pod string, since time.Time, window time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(window + time.Minute)
	next := func(after time.Time) (time.Duration, time.Time) {
		for {
			u, at := c.PodCPU(t, ns, pod)
			if at.After(after) {
				return u, at
			}
			if time.Now().After(deadline) {
				t.Fatalf("the kubelet measured pod %s/%s last at %s, not after %s", ns, pod, at, after)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	u0, t0 := next(since)
	u1, t1 := next(t0.Add(window))
	return float64(u1-u0) / float64(t1.Sub(t0))
}

var (
	imageOnce sync.Once
	imageRef  string
	imageErr  error
)

// CloudtestImage builds a static cloudtest from this checkout (CGO_ENABLED=0,
// as .ci/kube.sh builds its images), packs it as a FROM-scratch image
// whose entrypoint is /cloudtest, and imports it into the cluster's
// containerd (no registry), once per test process. The tag names the
// binary's digest, so that a pod never runs an older build.
func (c *Cluster) CloudtestImage(t testing.TB) string {
	t.Helper()
	imageOnce.Do(func() { imageRef, imageErr = c.buildImage() })
	if imageErr != nil {
		t.Fatalf("building the cloudtest image for the cluster: %v", imageErr)
	}
	return imageRef
}

// ContainerdSocket is the cluster's containerd, beside its kubeconfig.
func (c *Cluster) ContainerdSocket() string {
	return filepath.Join(filepath.Dir(c.Kubeconfig), "containerd", "containerd.sock")
}

func (c *Cluster) buildImage() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "cloudtest-image-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "cloudtest")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/cloudtest")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(exe)
	ref := "docker.io/local/cloudtest:test-" + hex.EncodeToString(sum[:])[:12]
	tarPath := filepath.Join(dir, "image.tar")
	if err := writeImageTar(tarPath, ref, exe); err != nil {
		return "", err
	}
	imp := exec.Command("ctr", "-n", "k8s.io", "--address", c.ContainerdSocket(), "images", "import", tarPath)
	if out, err := imp.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ctr images import: %v\n%s", err, out)
	}
	return ref, nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// writeImageTar writes a `docker save` archive of one layer holding
// /cloudtest, which `ctr images import` reads.
func writeImageTar(path, ref string, exe []byte) error {
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	if err := lw.WriteHeader(&tar.Header{Name: "cloudtest", Mode: 0o755, Size: int64(len(exe)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	lw.Write(exe)
	if err := lw.Close(); err != nil {
		return err
	}
	diff := sha256.Sum256(layer.Bytes())
	cfg, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Entrypoint": []string{"/cloudtest"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diff[:])}},
	})
	manifest, _ := json.Marshal([]map[string]any{{"Config": "config.json", "RepoTags": []string{ref}, "Layers": []string{"layer.tar"}}})
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, e := range []struct {
		name string
		data []byte
	}{{"layer.tar", layer.Bytes()}, {"config.json", cfg}, {"manifest.json", manifest}} {
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			f.Close()
			return err
		}
		tw.Write(e.data)
	}
	return errors.Join(tw.Close(), f.Close())
}

// GeneratorSelector selects the objects of cloudtest's load generator
// pods (runner = "kubernetes").
const GeneratorSelector = "app.kubernetes.io/managed-by=cloudtest,cloudtest.io/role=load-generator"

// GeneratorObjects names the load generators' Jobs, pods, ConfigMaps and
// Secrets left in ns.
func (c *Cluster) GeneratorObjects(t testing.TB, ns string) []string {
	t.Helper()
	ctx := context.Background()
	lo := metav1.ListOptions{LabelSelector: GeneratorSelector}
	var out []string
	jobs, err := c.Clientset.BatchV1().Jobs(ns).List(ctx, lo)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		out = append(out, "Job "+j.Name)
	}
	pods, err := c.Clientset.CoreV1().Pods(ns).List(ctx, lo)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		out = append(out, "Pod "+p.Name)
	}
	cms, err := c.Clientset.CoreV1().ConfigMaps(ns).List(ctx, lo)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range cms.Items {
		out = append(out, "ConfigMap "+m.Name)
	}
	secs, err := c.Clientset.CoreV1().Secrets(ns).List(ctx, lo)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs.Items {
		out = append(out, "Secret "+s.Name)
	}
	return out
}

// RunningGenerators are the load generator pods of ns that run.
func (c *Cluster) RunningGenerators(t testing.TB, ns string) []corev1.Pod {
	t.Helper()
	var out []corev1.Pod
	for _, p := range c.Pods(t, ns, GeneratorSelector) {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}
