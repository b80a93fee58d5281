package performance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/target"
)

// runner = "kubernetes": the generators are the pods of an Indexed Job
// (completions = parallelism = workers) running cloudtest's image as
// `cloudtest worker`, with the suite's files in a ConfigMap mounted at
// /suite. The coordinator talks to each pod's worker over pods/attach
// (its standard input and output, through the API server: nothing
// connects to the coordinator): the handoff (with the variables' values,
// which never go into the ConfigMap) and the start time go in, the
// worker's lines and, at the end, its part and raw results come out. The
// Job, its pods, the ConfigMap and the Secret (var files) carry the run's
// and suite's labels, are journaled before they are created, and are
// deleted on every way out; `cloudtest recover` deletes what a killed run
// left.

// DefaultWorkerImage is the image of the generator pods when the load
// block names none: the static cloudtest that .ci/kube.sh loads into the
// test cluster. A bank sets image to its own registry's copy.
const DefaultWorkerImage = "docker.io/local/cloudtest-demobank:ci"

// Labels of the generators' objects (those of the fault engine's, and one
// more that says what they are).
const (
	labelManagedBy = "app.kubernetes.io/managed-by"
	labelRun       = "cloudtest.io/run"
	labelSuite     = "cloudtest.io/suite"
	labelRole      = "cloudtest.io/role"
	roleGenerator  = "load-generator"
)

// GeneratorJournal is the file, under a run directory's load/, where the
// generators' objects are written down before they are created and when
// they are deleted: recover reads it.
const GeneratorJournal = "generators.jsonl"

// podsTimeout bounds how long the generator pods may take to run (be
// scheduled, pull the image, start).
var podsTimeout = 2 * time.Minute

// PodSpec is the load block's kubernetes block: how the generator pods run.
type PodSpec struct {
	Image string
	// Namespace (default: the Kubernetes target's), Kubeconfig and Context
	// (default: the target's, else kubectl's).
	Namespace, Kubeconfig, Context string
	// Requests and Limits by resource (cpu, memory).
	Requests, Limits map[string]resource.Quantity
	DeclRange        hcl.Range
}

// Defaults of the generator pods' resources.
var (
	defaultRequests = map[string]string{"cpu": "250m", "memory": "128Mi"}
	defaultLimits   = map[string]string{"cpu": "1", "memory": "512Mi"}
)

func (p *PodSpec) resources() corev1.ResourceRequirements {
	r := corev1.ResourceRequirements{Requests: corev1.ResourceList{}, Limits: corev1.ResourceList{}}
	for _, set := range []struct {
		dst  corev1.ResourceList
		def  map[string]string
		mine map[string]resource.Quantity
	}{{r.Requests, defaultRequests, p.Requests}, {r.Limits, defaultLimits, p.Limits}} {
		for k, v := range set.def {
			set.dst[corev1.ResourceName(k)] = resource.MustParse(v)
		}
		for k, v := range set.mine {
			set.dst[corev1.ResourceName(k)] = v
		}
	}
	// A request above the default limit raises the limit with it.
	for k, req := range r.Requests {
		if lim, ok := r.Limits[k]; ok && req.Cmp(lim) > 0 {
			if _, set := p.Limits[string(k)]; !set {
				r.Limits[k] = req
			}
		}
	}
	return r
}

// kubeFleet is the Indexed Job of generator pods and what goes with it.
type kubeFleet struct {
	s          *Suite
	rc         *rest.Config
	cs         kubernetes.Interface
	ns         string
	kubeconfig string
	kubeCtx    string
	name       string // of the Job, the ConfigMap and the Secret
	labels     map[string]string
	secret     bool
	dir        string
	suiteDir   string
	journal    string
	ws         []*kubeWorker
	image      string // the pods'
	reach      string // the load target's URL from the pods
	closeOnce  sync.Once
}

// generatorRecord is one line of the generators' journal.
type generatorRecord struct {
	Time       time.Time `json:"time"`
	Event      string    `json:"event"` // create, deleted
	Suite      string    `json:"suite"`
	Namespace  string    `json:"namespace"`
	Kubeconfig string    `json:"kubeconfig,omitempty"`
	Context    string    `json:"context,omitempty"`
	Name       string    `json:"name"`
	Run        string    `json:"run"` // the label value
	// Secret: a Secret of that name is created too (var files).
	Secret bool   `json:"secret,omitempty"`
	By     string `json:"by,omitempty"`
}

func writeGeneratorRecord(path string, r generatorRecord) error {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	return errors.Join(werr, f.Sync(), f.Close())
}

// kubeLabelValue makes s a label value.
func kubeLabelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf && (r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	v := strings.Trim(b.String(), "-_.")
	if len(v) <= 63 && len(validation.IsValidLabelValue(v)) == 0 && v != "" {
		return v
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

// kubeRunnerError is an error of runner = "kubernetes", on the runner's line.
func (s *Suite) kubeRunnerError(format string, args ...any) error {
	return fmt.Errorf("%s: runner = \"kubernetes\": %s", config.Location(s.Load.RunnerRange), fmt.Sprintf(format, args...))
}

// startKube creates the ConfigMap (and Secret) and the Indexed Job, waits
// until every pod runs, attaches to each and hands it its part. The fleet
// it returns (also with an error, when objects were created) must be
// closed: that deletes them.
func (s *Suite) startKube(ctx context.Context, renv *runner.Env, h Handoff, targetName string) (*kubeFleet, error) {
	spec := s.Load.Pods
	if spec == nil {
		spec = &PodSpec{}
	}
	inst := renv.Targets[targetName]
	if inst == nil {
		return nil, s.kubeRunnerError("target %q is not started", targetName)
	}
	f := &kubeFleet{s: s, dir: h.Dir, suiteDir: renv.Config.Dir, journal: filepath.Join(renv.Dir, "load", GeneratorJournal)}
	switch {
	case inst.Kube != nil && spec.Kubeconfig == "" && spec.Context == "":
		f.rc, f.cs, f.ns, f.kubeconfig, f.kubeCtx = inst.Kube.Rest, inst.Kube.Clientset, inst.Kube.Namespace, inst.Kube.Kubeconfig, inst.Kube.Context
	case inst.Kube == nil && spec.Namespace == "":
		return nil, s.kubeRunnerError("target %q is a URL (%s), not a Kubernetes target, so it says no cluster or namespace: say where the generator pods run with kubernetes { namespace = \"load\" } in the load block (kubeconfig = and context = as kubectl takes them, else $KUBECONFIG and its current context)", targetName, inst.URL)
	default:
		rc, ns, err := target.KubeClients(spec.Kubeconfig, spec.Context)
		if err != nil {
			return nil, s.kubeRunnerError("%v", err)
		}
		cs, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return nil, s.kubeRunnerError("%v", err)
		}
		f.rc, f.cs, f.ns, f.kubeconfig, f.kubeCtx = rc, cs, ns, spec.Kubeconfig, spec.Context
		if inst.Kube != nil {
			f.ns = inst.Kube.Namespace
		}
	}
	if spec.Namespace != "" {
		f.ns = spec.Namespace
	}
	urls, err := s.clusterURLs(ctx, renv, targetName, h.Of)
	if err != nil {
		return nil, err
	}
	f.reach = urls[0][targetName]
	files, err := suiteFiles(renv.Config, renv.Dir, h.VarFiles)
	if err != nil {
		return nil, s.kubeRunnerError("%v", err)
	}
	sum := sha256.Sum256([]byte(renv.RunID + "\x00" + s.Name + "\x00" + h.Dir))
	f.name = "cloudtest-load-" + hex.EncodeToString(sum[:])[:10]
	f.labels = map[string]string{labelManagedBy: "cloudtest", labelRun: kubeLabelValue(renv.RunID), labelSuite: kubeLabelValue(s.Name), labelRole: roleGenerator}
	// Journaled before anything exists: a run killed from here on leaves
	// objects that recover finds by these labels.
	if err := writeGeneratorRecord(f.journal, generatorRecord{Event: "create", Suite: s.Name, Namespace: f.ns,
		Kubeconfig: f.kubeconfig, Context: f.kubeCtx, Name: f.name, Run: f.labels[labelRun], Secret: len(h.VarFiles) > 0}); err != nil {
		return nil, fmt.Errorf("journaling the generator pods: %w", err)
	}
	if err := f.create(ctx, spec, files, h); err != nil {
		return f, err
	}
	if err := f.attach(ctx, h, urls); err != nil {
		return f, err
	}
	return f, nil
}

// clusterURLs are the targets' URLs as the generator pods reach them, for
// each of n workers: a Kubernetes target by its Service's DNS name (or a
// ready pod's IP), never through this machine's port-forward; a target on
// this machine's loopback cannot be reached and is refused.
func (s *Suite) clusterURLs(ctx context.Context, renv *runner.Env, targetName string, n int) ([]map[string]string, error) {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{}
	}
	names := make([]string, 0, len(renv.Targets))
	for name := range renv.Targets {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		inst := renv.Targets[name]
		for i := range out {
			u := inst.URL
			if inst.Kube != nil {
				var err error
				if u, err = inst.Kube.ClusterURL(ctx, i); err != nil {
					return nil, s.kubeRunnerError("target %q: %v", name, err)
				}
			} else if loopback(u) {
				if name == targetName {
					return nil, s.kubeRunnerError("target %q is at %s, on this machine's loopback, which the generator pods cannot reach: give it an address the cluster reaches, or make it a Kubernetes target (a kubernetes block), or use runner = \"local\"", name, u)
				}
				continue // not reachable from a pod; the suite's load does not go there
			}
			out[i][name] = u
		}
	}
	return out, nil
}

func loopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

// suiteFile is one file of the suite, as the pods see it.
type suiteFile struct {
	rel  string
	data []byte
	vars bool // a var file: in the Secret
}

// maxSuiteBytes bounds the suite's files: a ConfigMap holds at most 1 MiB.
const maxSuiteBytes = 900 << 10

// suiteFiles are the files of the suite's directory (the HCL, feeds,
// schemas and bodies it reads; not hidden files nor the run's output) and
// the var files, which may hold secrets and go into a Secret.
func suiteFiles(cfg *config.Config, runDir string, varFiles []string) ([]suiteFile, error) {
	var out []suiteFile
	total := 0
	outDir, _ := filepath.Abs(filepath.Dir(runDir))
	vf := map[string]bool{}
	for _, v := range varFiles {
		a, _ := filepath.Abs(v)
		vf[a] = true
	}
	err := filepath.WalkDir(cfg.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != cfg.Dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		abs, _ := filepath.Abs(p)
		if d.IsDir() {
			if abs == outDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || vf[abs] {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		total += len(b)
		if total > maxSuiteBytes {
			return fmt.Errorf("the suite's directory %s holds more than %d KiB of files (at %s): a ConfigMap holds at most 1 MiB; keep the suite's files in a directory of their own", cfg.Dir, maxSuiteBytes>>10, p)
		}
		rel, _ := filepath.Rel(cfg.Dir, p)
		out = append(out, suiteFile{rel: filepath.ToSlash(rel), data: b})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i, v := range varFiles {
		b, err := os.ReadFile(v)
		if err != nil {
			return nil, err
		}
		out = append(out, suiteFile{rel: fmt.Sprintf("%d/%s", i, filepath.Base(v)), data: b, vars: true})
	}
	return out, nil
}

const (
	podSuiteDir     = "/suite"
	podVarsDir      = "/vars"
	podWorkDir      = "/work"
	workerContainer = "worker"
)

// create makes the ConfigMap, the Secret (var files) and the Job.
func (f *kubeFleet) create(ctx context.Context, spec *PodSpec, files []suiteFile, h Handoff) error {
	volumes, mounts, err := f.createFiles(ctx, files)
	if err != nil {
		return err
	}
	image := spec.Image
	if image == "" {
		image = DefaultWorkerImage
	}
	f.image = image
	n := int32(h.Of)
	job := f.job(spec, n, volumes, mounts)
	if _, err := f.cs.BatchV1().Jobs(f.ns).Create(ctx, job, metav1.CreateOptions{FieldManager: "cloudtest"}); err != nil {
		return f.s.kubeRunnerError("creating the Indexed Job %s/%s of %d generator pods: %v", f.ns, f.name, n, err)
	}
	return nil
}

// createFiles makes the ConfigMap of the suite's files and, when there are
// var files, the Secret of them, and returns the pods' volumes and mounts:
// those two and the work directory.
func (f *kubeFleet) createFiles(ctx context.Context, files []suiteFile) ([]corev1.Volume, []corev1.VolumeMount, error) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: f.name, Namespace: f.ns, Labels: f.labels},
		Data: map[string]string{}, BinaryData: map[string][]byte{}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: f.name, Namespace: f.ns, Labels: f.labels}, Data: map[string][]byte{}}
	var suiteItems, varItems []corev1.KeyToPath
	for i, file := range files {
		key := "f" + strconv.Itoa(i)
		if file.vars {
			sec.Data[key] = file.data
			varItems = append(varItems, corev1.KeyToPath{Key: key, Path: file.rel})
			continue
		}
		if utf8.Valid(file.data) {
			cm.Data[key] = string(file.data)
		} else {
			cm.BinaryData[key] = file.data
		}
		suiteItems = append(suiteItems, corev1.KeyToPath{Key: key, Path: file.rel})
	}
	if _, err := f.cs.CoreV1().ConfigMaps(f.ns).Create(ctx, cm, metav1.CreateOptions{FieldManager: "cloudtest"}); err != nil {
		return nil, nil, f.s.kubeRunnerError("creating ConfigMap %s/%s with the suite's files: %v", f.ns, f.name, err)
	}
	volumes := []corev1.Volume{
		{Name: "suite", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: f.name}, Items: suiteItems}}},
		{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	mounts := []corev1.VolumeMount{{Name: "suite", MountPath: podSuiteDir, ReadOnly: true}, {Name: "work", MountPath: podWorkDir}}
	if len(varItems) > 0 {
		f.secret = true
		if _, err := f.cs.CoreV1().Secrets(f.ns).Create(ctx, sec, metav1.CreateOptions{FieldManager: "cloudtest"}); err != nil {
			return nil, nil, f.s.kubeRunnerError("creating Secret %s/%s with the var files: %v", f.ns, f.name, err)
		}
		volumes = append(volumes, corev1.Volume{Name: "vars", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: f.name, Items: varItems}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "vars", MountPath: podVarsDir, ReadOnly: true})
	}
	return volumes, mounts, nil
}

// job is the Indexed Job of n generator pods, each running the worker in
// f.image, non-root on a read-only root filesystem, with volumes mounted.
func (f *kubeFleet) job(spec *PodSpec, n int32, volumes []corev1.Volume, mounts []corev1.VolumeMount) *batchv1.Job {
	mode := batchv1.IndexedCompletion
	// A failed index stays failed (no pod that nobody would attach to
	// replaces it) and the other indexes run on: one evicted generator
	// must not take the Job, and the others, down with it.
	perIndex := int32(0)
	no, yes := false, true
	uid := int64(65532)
	podGrace := int64(5)
	// The Job ends by itself if nobody attaches or the coordinator vanished.
	deadline := int64((podsTimeout + readyTimeout + f.s.Load.Duration + grace + overrun + time.Minute).Seconds())
	ttl := int32(600)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: f.name, Namespace: f.ns, Labels: f.labels},
		Spec: batchv1.JobSpec{
			Completions: &n, Parallelism: &n, CompletionMode: &mode, BackoffLimitPerIndex: &perIndex,
			ActiveDeadlineSeconds: &deadline, TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: f.labels},
				Spec: corev1.PodSpec{
					RestartPolicy:                 corev1.RestartPolicyNever,
					TerminationGracePeriodSeconds: &podGrace,
					AutomountServiceAccountToken:  &no,
					EnableServiceLinks:            &no,
					SecurityContext: &corev1.PodSecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, RunAsGroup: &uid, FSGroup: &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
					Containers: []corev1.Container{{
						Name: workerContainer, Image: f.image, ImagePullPolicy: corev1.PullIfNotPresent,
						Args:  []string{"worker"},
						Stdin: true, StdinOnce: true,
						Resources:    spec.resources(),
						VolumeMounts: mounts,
						WorkingDir:   podWorkDir,
						Env:          []corev1.EnvVar{{Name: "TMPDIR", Value: podWorkDir}, {Name: "HOME", Value: podWorkDir}},
						SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
							Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
					}},
					Volumes: volumes,
				},
			},
		},
	}
}

// pods are the Job's pods by completion index (the newest, for an index
// that had several).
func (f *kubeFleet) pods(ctx context.Context) (map[int]*corev1.Pod, error) {
	l, err := f.cs.CoreV1().Pods(f.ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + f.name})
	if err != nil {
		return nil, err
	}
	out := map[int]*corev1.Pod{}
	for i := range l.Items {
		p := &l.Items[i]
		idx, err := strconv.Atoi(p.Annotations[batchv1.JobCompletionIndexAnnotation])
		if err != nil {
			continue
		}
		if o, ok := out[idx]; !ok || o.CreationTimestamp.Before(&p.CreationTimestamp) {
			out[idx] = p
		}
	}
	return out, nil
}

// waitRunning waits until every index has a running pod, and fails at once
// on a pod that cannot start (an image that cannot be pulled, a pod that
// failed).
func (f *kubeFleet) waitRunning(ctx context.Context, n int) (map[int]*corev1.Pod, error) {
	deadline := time.Now().Add(podsTimeout)
	var last string
	for {
		pods, err := f.pods(ctx)
		if err == nil {
			running := 0
			last = ""
			for i := 0; i < n; i++ {
				p := pods[i]
				if p == nil {
					last = fmt.Sprintf("generator %d of %d has no pod yet", i+1, n)
					continue
				}
				if why := cannotStart(p); why != "" {
					return nil, fmt.Errorf("generator %d of %d (pod %s, index %d) cannot start: %s%s", i+1, n, p.Name, i, why, f.events(p.Name, why))
				}
				if p.Status.Phase == corev1.PodRunning {
					running++
				} else {
					last = fmt.Sprintf("generator %d of %d (pod %s, index %d) is %s%s", i+1, n, p.Name, i, podState(p), f.events(p.Name))
				}
			}
			if running == n {
				return pods, nil
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the %d generator pods of Job %s/%s were not all running after %s: %s", n, f.ns, f.name, podsTimeout, last)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("interrupted while the %d generator pods were starting", n)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// cannotStart says why a pod will not run, or "" while it may still.
func cannotStart(p *corev1.Pod) string {
	if p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
		return "it ended before the coordinator attached to it: " + podState(p)
	}
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil {
			switch w.Reason {
			case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError", "ErrImageNeverPull":
				return fmt.Sprintf("%s: %s", w.Reason, w.Message)
			}
		}
	}
	return ""
}

// podState describes a pod: its container's end (or wait), the reason the
// pod was stopped (evicted, disrupted, unschedulable), and its phase.
func podState(p *corev1.Pod) string {
	var parts []string
	for _, c := range p.Status.ContainerStatuses {
		switch {
		case c.State.Terminated != nil:
			t := c.State.Terminated
			parts = append(parts, strings.TrimSpace(fmt.Sprintf("container terminated: %s, exit code %d %s", t.Reason, t.ExitCode, t.Message)))
		case c.State.Waiting != nil:
			parts = append(parts, strings.TrimSpace("container waiting: "+c.State.Waiting.Reason+" "+c.State.Waiting.Message))
		}
	}
	if p.Status.Reason != "" {
		parts = append(parts, strings.TrimSpace(p.Status.Reason+": "+p.Status.Message))
	}
	for _, c := range p.Status.Conditions {
		switch {
		case c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue:
			parts = append(parts, fmt.Sprintf("%s (%s: %s)", c.Type, c.Reason, c.Message))
		case c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue && c.Reason != "":
			parts = append(parts, fmt.Sprintf("not scheduled (%s: %s)", c.Reason, c.Message))
		}
	}
	parts = append(parts, "pod phase "+string(p.Status.Phase))
	return strings.Join(parts, "; ")
}

// events are the pod's warning events, for messages, but for those that
// only repeat what said already says.
func (f *kubeFleet) events(pod string, said ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	evs, err := f.cs.CoreV1().Events(f.ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		return ""
	}
	var msgs []string
	seen := map[string]bool{}
	for _, e := range evs.Items {
		if e.Type != corev1.EventTypeWarning && e.Reason != "Killing" && e.Reason != "Evicted" {
			continue
		}
		m := e.Reason + ": " + e.Message
		repeats := false
		for _, s := range said {
			// The kubelet's event quotes the error the status holds.
			_, detail, _ := strings.Cut(s, ": ")
			repeats = repeats || strings.Contains(s, e.Message) || detail != "" && strings.Contains(e.Message, detail)
		}
		if !seen[m] && !repeats {
			seen[m] = true
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return ""
	}
	return "; events: " + strings.Join(msgs, "; ")
}

// attach waits for the pods, attaches to each and hands it its part.
func (f *kubeFleet) attach(ctx context.Context, h Handoff, urls []map[string]string) error {
	pods, err := f.waitRunning(ctx, h.Of)
	if err != nil {
		return err
	}
	for i := 0; i < h.Of; i++ {
		w, err := f.attachOne(pods[i], i)
		if err != nil {
			return fmt.Errorf("generator %d of %d (pod %s, index %d): attaching: %w", i+1, h.Of, pods[i].Name, i, err)
		}
		f.ws = append(f.ws, w)
		hi := h
		hi.Index, hi.URLs, hi.Dir, hi.Stream = i, urls[i], podWorkDir, true
		hi.Source = podSuiteDir
		if rel, err := filepath.Rel(f.suiteDir, h.Source); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			hi.Source = podSuiteDir + "/" + filepath.ToSlash(rel)
		}
		hi.VarFiles = nil
		for k, v := range h.VarFiles {
			hi.VarFiles = append(hi.VarFiles, fmt.Sprintf("%s/%d/%s", podVarsDir, k, filepath.Base(v)))
		}
		if err := w.sendLine(hi); err != nil {
			return fmt.Errorf("%s: handing over its part: %w", w.name(h.Of), err)
		}
	}
	return nil
}

// note says where the generators ran, for the suite's message.
func (f *kubeFleet) note() string {
	return fmt.Sprintf("The %d generators ran as the pods of Indexed Job %s/%s (image %s), reaching %s from inside the cluster.", len(f.ws), f.ns, f.name, f.image, f.reach)
}

func (f *kubeFleet) members() []member {
	out := make([]member, len(f.ws))
	for i, w := range f.ws {
		out[i] = w
	}
	return out
}

// kubeWorker is one generator pod, attached.
type kubeWorker struct {
	peer
	f      *kubeFleet
	pod    string
	in     *io.PipeWriter
	cancel context.CancelFunc
	log    string
	// why is set once it ended: why it did not finish its part ("" if it did).
	why    string
	killed bool // by the coordinator
	wmu    sync.Mutex
}

func (f *kubeFleet) attachOne(p *corev1.Pod, i int) (*kubeWorker, error) {
	w := &kubeWorker{peer: newPeer(i), f: f, pod: p.Name, log: partFile(f.dir, i, "log")}
	logf, err := os.Create(w.log)
	if err != nil {
		return nil, err
	}
	req := f.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.ns).Name(p.Name).SubResource("attach").
		VersionedParams(&corev1.PodAttachOptions{Container: workerContainer, Stdin: true, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(f.rc, "POST", req.URL())
	if err != nil {
		logf.Close()
		return nil, err
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	w.in = inW
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	streamed := make(chan error, 1)
	go func() {
		err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Stderr: logf})
		// The executor may still copy from stdin: an end of file, not an
		// error, lets it end quietly; a send after this one fails.
		inW.Close()
		outW.CloseWithError(err)
		streamed <- err
	}()
	go func() {
		rerr := w.peer.read(outR, f.dir)
		io.Copy(io.Discard, outR)
		serr := <-streamed
		logf.Close()
		w.settle(rerr, serr)
		close(w.gone)
	}()
	return w, nil
}

func (w *kubeWorker) location() string { return fmt.Sprintf("pod %s, index %d", w.pod, w.idx) }

func (w *kubeWorker) name(of int) string {
	return fmt.Sprintf("generator %d of %d (%s)", w.idx+1, of, w.location())
}

func (w *kubeWorker) send(m message) error { return w.sendLine(m) }

func (w *kubeWorker) sendLine(m any) error {
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_, err = w.in.Write(append(line, '\n'))
	return err
}

func (w *kubeWorker) interrupt() { go w.send(message{Stop: true}) }

// kill ends the attach stream and deletes the pod at once.
func (w *kubeWorker) kill() {
	w.wmu.Lock()
	w.killed = true
	w.wmu.Unlock()
	w.cancel()
	go w.in.Close()
	grace := int64(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w.f.cs.CoreV1().Pods(w.f.ns).Delete(ctx, w.pod, metav1.DeleteOptions{GracePeriodSeconds: &grace})
}

func (w *kubeWorker) cpu() time.Duration { return 0 }

func (w *kubeWorker) failure() string {
	if w.isOverdue() {
		return fmt.Sprintf("was still running %s after the load's end and was deleted", overrun) + w.lastLog()
	}
	return w.why
}

// settle finds out, once the attach stream ended, whether the worker
// finished its part, and if not why, from the pod's status and events.
func (w *kubeWorker) settle(readErr, streamErr error) {
	finished := w.isDone() && w.sent("part") && w.sent("raw") && readErr == nil
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var p *corev1.Pod
	var gerr error
	// The container's end reaches the pod's status a moment after the stream's.
	for {
		p, gerr = w.f.cs.CoreV1().Pods(w.f.ns).Get(ctx, w.pod, metav1.GetOptions{})
		if gerr != nil || p.DeletionTimestamp != nil || terminated(p) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	w.wmu.Lock()
	killed := w.killed
	w.wmu.Unlock()
	switch {
	case killed:
		w.why = "was deleted by the coordinator" + w.lastLog()
	case apierrors.IsNotFound(gerr):
		w.why = "was evicted or deleted while it ran (its pod is gone)" + w.f.events(w.pod) + w.lastLog()
	case gerr != nil && !finished:
		w.why = fmt.Sprintf("ended (%v) and its pod cannot be read: %v", streamErr, gerr) + w.lastLog()
	case gerr != nil:
	case p.DeletionTimestamp != nil || p.Status.Reason == "Evicted" || disrupted(p):
		// Even if it wrote a part: it was stopped before its share was sent.
		w.why = "was evicted or deleted while it ran: " + podState(p) + w.f.events(w.pod) + w.lastLog()
	case !finished:
		w.why = "did not finish its part: " + podState(p) + w.f.events(w.pod) + w.lastLog()
		if readErr != nil {
			w.why += fmt.Sprintf(" (its output: %v)", readErr)
		} else if streamErr != nil {
			w.why += fmt.Sprintf(" (attach: %v)", streamErr)
		}
	}
}

func terminated(p *corev1.Pod) bool {
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == workerContainer && c.State.Terminated != nil {
			return true
		}
	}
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}

func disrupted(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// lastLog is the last line the worker wrote to its standard error.
func (w *kubeWorker) lastLog() string { return lastLine(w.log) }

// close ends every pod still attached and deletes the Job, its pods, the
// ConfigMap and the Secret, waiting until the pods are gone; the journal
// then says so. It runs on every way out of the load, interrupted or not.
func (f *kubeFleet) close(renv *runner.Env) {
	f.closeOnce.Do(func() {
		ms := f.members()
		for _, w := range f.ws {
			select {
			case <-w.exited():
			default:
				w.kill()
			}
		}
		for _, w := range ms {
			select {
			case <-w.exited():
			case <-time.After(30 * time.Second):
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		secret := ""
		if f.secret {
			secret = f.name
		}
		_, err := deleteGenerators(ctx, f.cs, f.ns, f.labels[labelRun], f.labels[labelSuite], secret)
		if err != nil {
			renv.Logf("the generator pods' objects in namespace %s could not all be deleted (run `cloudtest recover %s`): %v", f.ns, renv.Dir, err)
			return
		}
		writeGeneratorRecord(f.journal, generatorRecord{Event: "deleted", Suite: f.s.Name, Namespace: f.ns, Name: f.name, Run: f.labels[labelRun]})
	})
}

// deleteGenerators deletes the Jobs, pods and ConfigMaps of the run's
// generators in ns (of one suite, or all when suite is "") by their
// labels, and the Secret called secret (if not ""), and waits until the pods are gone;
// it returns what it deleted.
func deleteGenerators(ctx context.Context, cs kubernetes.Interface, ns, run, suite, secret string) ([]string, error) {
	sel := labelManagedBy + "=cloudtest," + labelRole + "=" + roleGenerator + "," + labelRun + "=" + run
	if suite != "" {
		sel += "," + labelSuite + "=" + suite
	}
	lo := metav1.ListOptions{LabelSelector: sel}
	grace := int64(0)
	bg := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{GracePeriodSeconds: &grace, PropagationPolicy: &bg}
	done, errs := deleteGeneratorObjects(ctx, cs, ns, lo, del, secret)
	// The pods go with their Job; deleted here too, at once, and waited for.
	pods := 0
	for {
		l, err := cs.CoreV1().Pods(ns).List(ctx, lo)
		if err != nil {
			errs = append(errs, err)
			break
		}
		if len(l.Items) == 0 {
			break
		}
		for _, p := range l.Items {
			if p.DeletionTimestamp == nil {
				pods++
			}
			cs.CoreV1().Pods(ns).Delete(ctx, p.Name, del)
		}
		select {
		case <-ctx.Done():
			return done, errors.Join(append(errs, fmt.Errorf("%d generator pods still in namespace %s", len(l.Items), ns))...)
		case <-time.After(250 * time.Millisecond):
		}
	}
	if pods > 0 {
		done = append(done, fmt.Sprintf("%d pods", pods))
	}
	return done, errors.Join(errs...)
}

// deleteGeneratorObjects deletes the Jobs and ConfigMaps in ns that lo
// selects, and the Secret called secret (if not ""), with del; it returns
// what it deleted and what it could not.
func deleteGeneratorObjects(ctx context.Context, cs kubernetes.Interface, ns string, lo metav1.ListOptions, del metav1.DeleteOptions, secret string) ([]string, []error) {
	var done []string
	var errs []error
	if l, err := cs.BatchV1().Jobs(ns).List(ctx, lo); err != nil {
		errs = append(errs, err)
	} else {
		for _, j := range l.Items {
			if err := cs.BatchV1().Jobs(ns).Delete(ctx, j.Name, del); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			} else {
				done = append(done, "Job "+j.Name)
			}
		}
	}
	if l, err := cs.CoreV1().ConfigMaps(ns).List(ctx, lo); err != nil {
		errs = append(errs, err)
	} else {
		for _, c := range l.Items {
			if err := cs.CoreV1().ConfigMaps(ns).Delete(ctx, c.Name, del); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			} else {
				done = append(done, "ConfigMap "+c.Name)
			}
		}
	}
	// The Secret by its name, not by listing: listing Secrets reads them,
	// which the Role need not allow.
	if secret != "" {
		if err := cs.CoreV1().Secrets(ns).Delete(ctx, secret, del); err == nil {
			done = append(done, "Secret "+secret)
		} else if !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return done, errs
}

// RecoverGenerators deletes the generator pods' objects that the runs
// under dir journaled as created and never as deleted (a run killed with
// kill -9), by their labels; it writes what it did to w and returns how
// many objects it deleted.
func RecoverGenerators(ctx context.Context, dir string, w io.Writer) (int, error) {
	var paths []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == GeneratorJournal {
			paths = append(paths, p)
		}
		return nil
	})
	sort.Strings(paths)
	total := 0
	var errs []error
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, r := range pendingGenerators(b) {
			n, err := recoverGenerator(ctx, path, r, w)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			total += n
		}
	}
	return total, errors.Join(errs...)
}

// pendingGenerators are the generator objects a journal records as created
// and never as deleted, in the order of their creation.
func pendingGenerators(journal []byte) []generatorRecord {
	pending := map[string]generatorRecord{}
	var order []string
	for _, line := range strings.Split(strings.TrimSpace(string(journal)), "\n") {
		var r generatorRecord
		if json.Unmarshal([]byte(line), &r) != nil {
			continue
		}
		key := r.Namespace + "/" + r.Name
		switch r.Event {
		case "create":
			if _, ok := pending[key]; !ok {
				order = append(order, key)
			}
			pending[key] = r
		case "deleted":
			delete(pending, key)
		}
	}
	var out []generatorRecord
	for _, key := range order {
		if r, ok := pending[key]; ok {
			out = append(out, r)
		}
	}
	return out
}

// recoverGenerator deletes the generator objects of the record r of the
// journal at path, says so on w and journals them as deleted; it returns
// how many objects it deleted.
func recoverGenerator(ctx context.Context, path string, r generatorRecord, w io.Writer) (int, error) {
	rc, _, err := target.KubeClients(r.Kubeconfig, r.Context)
	if err != nil {
		return 0, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return 0, err
	}
	secret := ""
	if r.Secret {
		secret = r.Name
	}
	done, err := deleteGenerators(ctx, cs, r.Namespace, r.Run, kubeLabelValue(r.Suite), secret)
	if err != nil {
		return 0, fmt.Errorf("the generators of suite %q in namespace %s: %w", r.Suite, r.Namespace, err)
	}
	if len(done) > 0 {
		fmt.Fprintf(w, "removed the load generators of suite %q in namespace %s: %s\n", r.Suite, r.Namespace, strings.Join(done, ", "))
	}
	writeGeneratorRecord(path, generatorRecord{Event: "deleted", Suite: r.Suite, Namespace: r.Namespace, Name: r.Name, Run: r.Run, By: "recover"})
	return len(done), nil
}
