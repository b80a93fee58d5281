package fault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/hashicorp/hcl/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/target"
)

// The kubernetes engine creates the Chaos Mesh object of a fault in the
// target's namespace and lets the cluster's Chaos Mesh carry it out: the
// controller for pod-kill and pod-failure, its chaos-daemon on the node for
// container-kill, partition, bandwidth and cpu. It carries out the actions
// whose value says kubernetes (actions.go); each is tested against a real
// controller and daemon (.ci/kube.sh). The rest are refused (note).

// kubeKind is the kubernetes engine, the default on a Kubernetes target.
var kubeKind = engineKind{
	name:    "kubernetes",
	carries: func(a *action) bool { return a.kubernetes },
	note: " delay, loss and corrupt (the kernel's netem qdisc), memory (Chaos Mesh's memStress) and the HTTP faults (chaos-tproxy) are not verified on a real cluster" +
		" (the test cluster's kernel has no netem; memStress and chaos-tproxy are not served by the registries cloudtest is built from), so this engine refuses them;" +
		" `cloudtest plan --emit-chaos` writes their objects for applying by hand.",
	checkTarget: func(s *Spec, t *config.Target, b *hcl.Block) hcl.Diagnostics {
		if t.Kubernetes != nil {
			return nil
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Target is not in Kubernetes",
			Detail:   fmt.Sprintf("The kubernetes engine acts on pods in a cluster; target %q has no kubernetes block.", s.Target),
			Subject:  b.DefRange.Ptr(),
		}}
	},
	open: func(run, suite string) engine { return newKubeEngine(run, suite) },
}

// Labels on every object the engine creates; recover deletes by them.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelRun       = "cloudtest.io/run"
	LabelSuite     = "cloudtest.io/suite"
	opKubeDelete   = "delete"
)

// How long the controller may take to report AllInjected.
var kubeInjectTimeout = 60 * time.Second

type kubeEngine struct {
	run, suite string

	mu         sync.Mutex
	clients    map[string]*kubeClient // by kubeconfig + context
	injectedAt map[*Spec]time.Time
}

type kubeClient struct {
	dyn dynamic.Interface
	cs  kubernetes.Interface
}

func newKubeEngine(run, suite string) *kubeEngine {
	return &kubeEngine{run: run, suite: suite, clients: map[string]*kubeClient{}, injectedAt: map[*Spec]time.Time{}}
}

// runOf names the run of a journal at RUN_DIR/faults/<suite>.jsonl.
func runOf(journalPath string) string {
	return filepath.Base(filepath.Dir(filepath.Dir(journalPath)))
}

// labelValue makes s a label value (at most 63 characters of [A-Za-z0-9._-],
// alphanumeric at both ends).
func labelValue(s string) string {
	if len(validation.IsValidLabelValue(s)) == 0 {
		return s
	}
	v := objectName(s)
	if len(validation.IsValidLabelValue(v)) == 0 {
		return v
	}
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}

// kubeObjectName is the fault's object name for this run: stable, so that
// the journal can name it before it exists, and unique per run and suite,
// so that runs side by side in one namespace do not collide.
func (e *kubeEngine) kubeObjectName(s *Spec) string {
	sum := sha256.Sum256([]byte(e.run + "\x00" + e.suite))
	suffix := "-" + hex.EncodeToString(sum[:])[:8]
	base := objectName(s.Name)
	if len(base)+len(suffix) > 63 {
		base = strings.TrimRight(base[:63-len(suffix)], "-")
	}
	return base + suffix
}

func (e *kubeEngine) plan(s *Spec, t *target.Instance) []Undo {
	if t == nil || t.Kube == nil || s.Object == nil {
		return nil
	}
	return []Undo{{Engine: "kubernetes", Op: opKubeDelete, Args: map[string]string{
		"kind": s.Kind, "namespace": t.Kube.Namespace, "name": e.kubeObjectName(s),
		"run": labelValue(e.run), "suite": labelValue(e.suite),
		"kubeconfig": t.Kube.Kubeconfig, "context": t.Kube.Context,
	}}}
}

func gvrOf(kind string) schema.GroupVersionResource {
	return v1alpha1.SchemeGroupVersion.WithResource(strings.ToLower(kind))
}

// object is the Chaos Mesh object of s for target k: in k's namespace,
// selecting k's pods, labelled with the run and the suite. Every kind names
// its pods through selectors (GetSelectorSpecs: a PodSelector, or a
// ContainerSelector that adds the containers); each gets k's.
func (e *kubeEngine) object(ctx context.Context, s *Spec, k *target.Kube) (*unstructured.Unstructured, error) {
	obj, ok := s.Object.DeepCopyObject().(interface {
		client.Object
		GetSelectorSpecs() map[string]interface{}
	})
	if !ok {
		return nil, fmt.Errorf("fault %q: no Chaos Mesh object with a pod selector", s.Name)
	}
	obj.SetName(e.kubeObjectName(s))
	obj.SetNamespace(k.Namespace)
	obj.SetLabels(map[string]string{LabelManagedBy: "cloudtest", LabelRun: labelValue(e.run), LabelSuite: labelValue(e.suite)})
	sel := k.Selector()
	if len(sel) == 0 {
		return nil, fmt.Errorf("fault %q: target %q has no label selector to choose its pods by (a Service without a selector?)", s.Name, k.Name)
	}
	if nc, ok := obj.(*v1alpha1.NetworkChaos); ok {
		// The local engine's other side (upstream) is a proxy's; in a
		// cluster the fault is on the target pods' own interface.
		nc.Spec.Target = nil
	}
	for _, spec := range obj.GetSelectorSpecs() {
		var ps *v1alpha1.PodSelector
		switch p := spec.(type) {
		case *v1alpha1.PodSelector:
			ps = p
		case *v1alpha1.ContainerSelector:
			ps = &p.PodSelector
			// container-kill needs a container; a stress goes to the
			// target's container when it names one, else Chaos Mesh
			// takes the pod's first.
			if s.Action == string(v1alpha1.ContainerKillAction) || k.Container() != "" {
				name, err := containerName(ctx, k)
				if err != nil {
					return nil, fmt.Errorf("fault %q: %w", s.Name, err)
				}
				p.ContainerNames = []string{name}
			}
		default:
			continue
		}
		ps.Selector.Namespaces = []string{k.Namespace}
		ps.Selector.LabelSelectors = sel
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(v1alpha1.SchemeGroupVersion.String())
	u.SetKind(s.Kind)
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}

// containerName is the container container-kill acts on: the target's
// container, else the first container of one of its pods.
func containerName(ctx context.Context, k *target.Kube) (string, error) {
	if k.Container() != "" {
		return k.Container(), nil
	}
	pods := k.ReadyPods()
	if len(pods) == 0 {
		return "", fmt.Errorf("target %q has no ready pod to find the container of; name it with container = \"…\" in the kubernetes block", k.Name)
	}
	p, err := k.Clientset.CoreV1().Pods(k.Namespace).Get(ctx, pods[0], metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return p.Spec.Containers[0].Name, nil
}

func (e *kubeEngine) inject(ctx context.Context, s *Spec, t *target.Instance) ([]Undo, error) {
	if t == nil || t.Kube == nil {
		return nil, fmt.Errorf("fault %q: the kubernetes engine acts on Kubernetes targets; target %q is not one (give it a kubernetes block)", s.Name, s.Target)
	}
	k := t.Kube
	e.remember(k)
	u, err := e.object(ctx, s, k)
	if err != nil {
		return nil, err
	}
	undo := e.plan(s, t)
	res := k.Dynamic.Resource(gvrOf(s.Kind)).Namespace(k.Namespace)
	asked := time.Now()
	if _, err := res.Create(ctx, u, metav1.CreateOptions{FieldManager: "cloudtest"}); err != nil {
		var status apierrors.APIStatus
		if errors.As(err, &status) && !apierrors.IsAlreadyExists(err) && !apierrors.IsTimeout(err) && !apierrors.IsServerTimeout(err) {
			// The API server answered: nothing was created.
			return nil, refusal(s, err)
		}
		return undo, fmt.Errorf("fault %q: creating %s %s/%s: %w", s.Name, s.Kind, k.Namespace, u.GetName(), err)
	}
	at, err := waitInjected(ctx, k.Clientset, res, s, u.GetName(), k.Namespace)
	if err != nil {
		return undo, err
	}
	if s.Kind == v1alpha1.KindNetworkChaos {
		if err := waitNetworkApplied(ctx, k.Dynamic, res, u.GetName(), k.Namespace); err != nil {
			return undo, fmt.Errorf("fault %q: %w", s.Name, err)
		}
	}
	if at.Before(asked) {
		// The records' timestamps have one-second resolution.
		at = asked
	}
	e.mu.Lock()
	e.injectedAt[s] = at
	e.mu.Unlock()
	return undo, nil
}

// refusal says why the cluster refused the object, on the fault's HCL line.
func refusal(s *Spec, err error) error {
	msg := err.Error()
	who := "the Kubernetes API server"
	if strings.Contains(msg, "admission webhook") {
		who = "Chaos Mesh's admission webhook"
	}
	return fmt.Errorf("%s: %s refused fault %q (%s): %s", config.Location(s.DeclRange), who, s.Name, s.Action, msg)
}

// remember keeps the target's clients for the removal.
func (e *kubeEngine) remember(k *target.Kube) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := k.Kubeconfig + "\x00" + k.Context
	if _, ok := e.clients[key]; !ok {
		e.clients[key] = &kubeClient{dyn: k.Dynamic, cs: k.Clientset}
	}
}

func (e *kubeEngine) client(kubeconfig, kubeContext string) (*kubeClient, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := kubeconfig + "\x00" + kubeContext
	if c, ok := e.clients[key]; ok {
		return c, nil
	}
	rc, _, err := target.KubeClients(kubeconfig, kubeContext)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	c := &kubeClient{dyn: dyn, cs: cs}
	e.clients[key] = c
	return c, nil
}

// injectedAtOf is when the controller reported the fault applied.
func (e *kubeEngine) injectedAtOf(s *Spec) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	at, ok := e.injectedAt[s]
	return at, ok
}

func chaosStatus(u *unstructured.Unstructured) v1alpha1.ChaosStatus {
	var st v1alpha1.ChaosStatus
	if m, ok := u.Object["status"].(map[string]any); ok {
		runtime.DefaultUnstructuredConverter.FromUnstructured(m, &st)
	}
	return st
}

func condition(st v1alpha1.ChaosStatus, t v1alpha1.ChaosConditionType) bool {
	for _, c := range st.Conditions {
		if c.Type == t {
			return c.Status == "True"
		}
	}
	return false
}

// firstApply is the earliest successful Apply in the object's records.
func firstApply(st v1alpha1.ChaosStatus) (time.Time, bool) {
	var at time.Time
	for _, r := range st.Experiment.Records {
		for _, ev := range r.Events {
			if ev.Operation == v1alpha1.Apply && ev.Type == v1alpha1.TypeSucceeded && ev.Timestamp != nil {
				if at.IsZero() || ev.Timestamp.Time.Before(at) {
					at = ev.Timestamp.Time
				}
			}
		}
	}
	return at, !at.IsZero()
}

// waitInjected waits for AllInjected (or, for a fault with a duration that
// already ended, AllRecovered after an Apply) and returns the time of the
// first Apply.
func waitInjected(ctx context.Context, cs kubernetes.Interface, res dynamic.ResourceInterface, s *Spec, name, ns string) (time.Time, error) {
	deadline := time.Now().Add(kubeInjectTimeout)
	var last *unstructured.Unstructured
	for {
		u, err := res.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			last = u
			st := chaosStatus(u)
			at, applied := firstApply(st)
			if applied && (condition(st, v1alpha1.ConditionAllInjected) || condition(st, v1alpha1.ConditionAllRecovered)) {
				return at, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			why := fmt.Sprintf("not injected after %s", kubeInjectTimeout)
			if ctx.Err() != nil {
				why = "interrupted before it was injected"
			}
			return time.Time{}, fmt.Errorf("fault %q: %s %s/%s %s: %s", s.Name, s.Kind, ns, name, why, describe(context.WithoutCancel(ctx), cs, last, ns, name))
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// describe gives an object's conditions and events, for error messages.
func describe(ctx context.Context, cs kubernetes.Interface, u *unstructured.Unstructured, ns, name string) string {
	var parts []string
	if u != nil {
		st := chaosStatus(u)
		var conds []string
		for _, c := range st.Conditions {
			s := string(c.Type) + "=" + string(c.Status)
			if c.Reason != "" {
				s += " (" + c.Reason + ")"
			}
			conds = append(conds, s)
		}
		if len(conds) == 0 {
			conds = []string{"none yet"}
		}
		parts = append(parts, "conditions "+strings.Join(conds, ", "))
	}
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	evs, err := cs.CoreV1().Events(ns).List(ectx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err == nil {
		items := evs.Items
		sort.Slice(items, func(i, j int) bool { return items[i].LastTimestamp.Before(&items[j].LastTimestamp) })
		var msgs []string
		seen := map[string]bool{}
		for _, ev := range items {
			m := fmt.Sprintf("%s %s: %s", ev.Type, ev.Reason, ev.Message)
			if !seen[m] { // the controller repeats itself on every retry
				seen[m] = true
				msgs = append(msgs, m)
			}
		}
		if len(msgs) > 0 {
			parts = append(parts, "events: "+strings.Join(msgs, "; "))
		} else {
			parts = append(parts, "no events")
		}
	}
	return strings.Join(parts, "; ")
}

// undo deletes the fault's object, and any other object of the same kind
// that carries the run's and suite's labels (recover's sweep), then waits
// until they are gone: the controller recovers the pods (pod-failure puts
// the image back) before it lets an object go.
func (e *kubeEngine) undo(ctx context.Context, u Undo) error {
	if u.Op != opKubeDelete {
		return fmt.Errorf("unknown kubernetes removal %q", u.Op)
	}
	a := u.Args
	c, err := e.client(a["kubeconfig"], a["context"])
	if err != nil {
		return err
	}
	res := c.dyn.Resource(gvrOf(a["kind"])).Namespace(a["namespace"])
	names := []string{a["name"]}
	if a["run"] != "" && a["suite"] != "" {
		list, err := res.List(ctx, metav1.ListOptions{LabelSelector: LabelRun + "=" + a["run"] + "," + LabelSuite + "=" + a["suite"]})
		if err != nil {
			return fmt.Errorf("listing the run's %s objects in %s: %w", a["kind"], a["namespace"], err)
		}
		for _, it := range list.Items {
			if !slices.Contains(names, it.GetName()) {
				names = append(names, it.GetName())
			}
		}
	}
	var errs []error
	for _, n := range names {
		if err := res.Delete(ctx, n, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s/%s: %w", a["kind"], a["namespace"], n, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, n := range names {
		if err := waitGone(ctx, c.cs, res, a["kind"], a["namespace"], n); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && a["kind"] == v1alpha1.KindNetworkChaos {
		// The pods' rules go once chaos-daemon has applied their PodNetworkChaos.
		errs = append(errs, waitPodNetworks(ctx, c.dyn, a["namespace"], nil))
	}
	return errors.Join(errs...)
}

var podNetworkChaos = v1alpha1.SchemeGroupVersion.WithResource("podnetworkchaos")

// waitNetworkApplied waits until chaos-daemon has applied the fault. Chaos
// Mesh reports a NetworkChaos injected once it has written the rules into
// each selected pod's PodNetworkChaos; the daemon applies those after that,
// and says so (or why not) in the PodNetworkChaos's status.
func waitNetworkApplied(ctx context.Context, dyn dynamic.Interface, res dynamic.ResourceInterface, name, ns string) error {
	u, err := res.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	pods := map[string]bool{}
	for _, r := range chaosStatus(u).Experiment.Records {
		// A record's id is namespace/pod.
		if _, pod, ok := strings.Cut(r.Id, "/"); ok {
			pod, _, _ = strings.Cut(pod, "/")
			pods[pod] = true
		}
	}
	return waitPodNetworks(ctx, dyn, ns, pods)
}

// waitPodNetworks waits until chaos-daemon has applied the PodNetworkChaos
// of the given pods in ns (all of ns's with nil), for at most
// kubeInjectTimeout; one it failed to apply is an error with its message.
func waitPodNetworks(ctx context.Context, dyn dynamic.Interface, ns string, pods map[string]bool) error {
	deadline := time.Now().Add(kubeInjectTimeout)
	for {
		list, err := dyn.Resource(podNetworkChaos).Namespace(ns).List(ctx, metav1.ListOptions{})
		var pending []string
		if err == nil {
			for _, it := range list.Items {
				if pods != nil && !pods[it.GetName()] {
					continue
				}
				observed, _, _ := unstructured.NestedInt64(it.Object, "status", "observedGeneration")
				failed, _, _ := unstructured.NestedString(it.Object, "status", "failedMessage")
				switch {
				case observed < it.GetGeneration():
					pending = append(pending, it.GetName())
				case failed != "":
					return fmt.Errorf("chaos-daemon could not apply the network rules of pod %s/%s: %s", ns, it.GetName(), strings.TrimSpace(failed))
				}
			}
			if len(pending) == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			if err == nil {
				err = fmt.Errorf("not applied after %s", kubeInjectTimeout)
			}
			return fmt.Errorf("chaos-daemon has not applied the network rules of pods %v in %s: %w", pending, ns, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func waitGone(ctx context.Context, cs kubernetes.Interface, res dynamic.ResourceInterface, kind, ns, name string) error {
	for {
		u, err := res.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil && condition(chaosStatus(u), v1alpha1.ConditionAllRecovered) && len(u.GetFinalizers()) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s/%s is still there after its deletion (is the Chaos Mesh controller running? it removes the object once the pods are recovered): %s",
				kind, ns, name, describe(context.WithoutCancel(ctx), cs, u, ns, name))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kubeAdjust makes the object of a fault on a Kubernetes target select that
// target's namespace (and labels, when the target names them), so that the
// validation and the emitted YAML see the object the engine will create; a
// Service's selector is only known in the cluster, at injection.
func kubeAdjust(s *Spec, dc *config.DecodeContext) {
	if dc == nil || dc.Config() == nil || s.Object == nil {
		return
	}
	t := dc.Config().Targets[s.Target]
	if t == nil || t.Kubernetes == nil {
		return
	}
	pc, ok := s.Object.(*v1alpha1.PodChaos)
	if !ok {
		return
	}
	ns := t.Kubernetes.Namespace
	if ns == "" {
		ns = Namespace
	}
	pc.Namespace = ns
	pc.Spec.Selector.Namespaces = []string{ns}
	if len(t.Kubernetes.Selector) > 0 {
		pc.Spec.Selector.LabelSelectors = t.Kubernetes.Selector
	}
	if t.Kubernetes.Container != "" && pc.Spec.Action == v1alpha1.ContainerKillAction {
		pc.Spec.ContainerNames = []string{t.Kubernetes.Container}
	}
}

// decodeMode reads mode and value, the blast radius of a Kubernetes fault.
func decodeMode(attrs hcl.Attributes, dc *config.DecodeContext) (v1alpha1.SelectorMode, string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	mode, value := v1alpha1.AllMode, ""
	if a, ok := attrs["mode"]; ok {
		m, d := dc.OneOf(a, "one", "all", "fixed", "fixed-percent", "random-max-percent")
		diags = append(diags, d...)
		mode = v1alpha1.SelectorMode(m)
	}
	if a, ok := attrs["value"]; ok {
		v, d := dc.String(a)
		diags = append(diags, d...)
		value = v
		if mode == v1alpha1.AllMode || mode == v1alpha1.OneMode {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Attribute does not apply",
				Detail:  fmt.Sprintf("The attribute \"value\" is the number or percentage of pods for mode \"fixed\", \"fixed-percent\" or \"random-max-percent\"; mode is %q.", mode),
				Subject: a.NameRange.Ptr()})
		}
	} else if mode != v1alpha1.AllMode && mode != v1alpha1.OneMode {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required attribute",
			Detail:  fmt.Sprintf("Mode %q needs value, the number (fixed) or percentage of pods, such as value = 2.", mode),
			Subject: attrs["mode"].Expr.Range().Ptr()})
	}
	return mode, value, diags
}

func isKubeTarget(dc *config.DecodeContext, name string) bool {
	if dc == nil || dc.Config() == nil {
		return false
	}
	t := dc.Config().Targets[name]
	return t != nil && t.Kubernetes != nil
}
