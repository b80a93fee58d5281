package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/hashicorp/hcl/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/target"
)

// An action is one fault action in Chaos Mesh's vocabulary, with
// everything about it: the kind of object it makes, the attributes of its
// own, how it fills the object, and which engines carry it out and how.
// Adding an action is adding one value to the table below (and its test);
// the engines' files hold the ways of applying and removing that the
// values name (see engine.go).
type action struct {
	name string
	kind string
	// fields are the attributes that carry the action's own settings;
	// they bear Chaos Mesh's field names.
	fields []string
	// required are the fields without which the action does nothing
	// (Chaos Mesh would accept a delay without latency, and delay by nothing).
	required []requiredField
	// oneShot: the effect ends by itself (a kill); the experiment does
	// not wait for a removal and needs no duration.
	oneShot bool
	// build makes the Chaos Mesh object from the block's attributes.
	build func(b *objectBuilder) client.Object

	// How each engine carries the action out; nil (false) when it does
	// not. local and docker say what they do (local.go, docker.go);
	// kubernetes applies the Chaos Mesh object as it is (kubernetes.go).
	local      *localAction
	docker     *dockerAction
	kubernetes bool
}

type requiredField struct{ name, example string }

// actions are the fault actions in the order the documentation gives them.
var actions = []*action{
	{name: "pod-kill", kind: v1alpha1.KindPodChaos, fields: []string{"grace_period"}, oneShot: true, build: buildPod,
		local:  &localAction{process: true, inject: podKillProcess},
		docker: &dockerAction{inject: dockerPodKill, removal: opDockerStart}, kubernetes: true},
	{name: "pod-failure", kind: v1alpha1.KindPodChaos, build: buildPod,
		local:  &localAction{process: true, inject: freezeProcess, plan: planFreeze},
		docker: &dockerAction{inject: dockerPause, removal: opDockerUnpause}, kubernetes: true},
	{name: "container-kill", kind: v1alpha1.KindPodChaos, oneShot: true, build: buildPod,
		local:  &localAction{process: true, inject: killProcess},
		docker: &dockerAction{inject: dockerContainerKill}, kubernetes: true},
	{name: "delay", kind: v1alpha1.KindNetworkChaos, fields: []string{"latency", "jitter", "correlation", "direction"},
		required: []requiredField{{"latency", `latency = "100ms"`}},
		build: buildNetwork(func(b *objectBuilder, nc *v1alpha1.NetworkChaos) {
			nc.Spec.Delay = &v1alpha1.DelaySpec{Latency: b.str("latency"), Jitter: b.str("jitter"), Correlation: b.str("correlation")}
		}),
		local: &localAction{onProxy: withToxics(delayToxics)}},
	{name: "loss", kind: v1alpha1.KindNetworkChaos, fields: []string{"loss", "correlation", "direction"},
		required: []requiredField{{"loss", `loss = 10 (percent)`}},
		build: buildNetwork(func(b *objectBuilder, nc *v1alpha1.NetworkChaos) {
			nc.Spec.Loss = &v1alpha1.LossSpec{Loss: b.str("loss"), Correlation: b.str("correlation")}
		}),
		local: &localAction{onProxy: withToxics(lossToxics)}},
	// corrupt has no local way: the local engine works on TCP through
	// toxiproxy, which has no toxic that alters bytes.
	{name: "corrupt", kind: v1alpha1.KindNetworkChaos, fields: []string{"corrupt", "correlation", "direction"},
		required: []requiredField{{"corrupt", `corrupt = 10 (percent)`}},
		build: buildNetwork(func(b *objectBuilder, nc *v1alpha1.NetworkChaos) {
			nc.Spec.Corrupt = &v1alpha1.CorruptSpec{Corrupt: b.str("corrupt"), Correlation: b.str("correlation")}
		})},
	{name: "partition", kind: v1alpha1.KindNetworkChaos, fields: []string{"direction"},
		build:  buildNetwork(func(*objectBuilder, *v1alpha1.NetworkChaos) {}),
		local:  &localAction{onProxy: partition},
		docker: &dockerAction{inject: dockerDisconnect, removal: opDockerConnect}, kubernetes: true},
	{name: "bandwidth", kind: v1alpha1.KindNetworkChaos, fields: []string{"rate", "limit", "buffer", "direction"},
		required: []requiredField{{"rate", `rate = "1mbps"`}},
		build:    buildNetwork(buildBandwidth),
		local:    &localAction{onProxy: withToxics(bandwidthToxics)}, kubernetes: true},
	{name: "cpu", kind: v1alpha1.KindStressChaos, fields: []string{"workers", "load"}, build: buildStress,
		local: &localAction{inject: injectStress}, kubernetes: true},
	{name: "memory", kind: v1alpha1.KindStressChaos, fields: []string{"workers", "size"}, build: buildStress,
		local: &localAction{inject: injectStress}},
	{name: "abort", kind: v1alpha1.KindHTTPChaos, fields: []string{"port", "path", "method", "code"}, build: buildHTTP,
		local: &localAction{onProxy: withToxics(abortToxics)}},
	{name: "http-delay", kind: v1alpha1.KindHTTPChaos, fields: []string{"delay", "port", "path", "method", "code"},
		required: []requiredField{{"delay", `delay = "500ms"`}},
		build:    buildHTTP,
		local:    &localAction{onProxy: withToxics(httpDelayToxics)}},
	{name: "process", kind: v1alpha1.KindPhysicalMachineChaos, fields: []string{"signal"}, oneShot: true,
		required: []requiredField{{"signal", `signal = 15 (SIGTERM)`}},
		build:    buildProcess,
		local:    &localAction{process: true, inject: signalProcess}},
	{name: "disk-fill", kind: v1alpha1.KindPhysicalMachineChaos, fields: []string{"size", "path"},
		required: []requiredField{{"size", `size = "1G" (dd's units: c, w, b, kB, K, MB, M, GB, G)`}, {"path", `path = "/var/lib/app/fill" (a file that does not exist yet)`}},
		build:    buildDiskFill,
		local:    &localAction{inject: fillDisk, removals: map[string]func(context.Context, *localEngine, Undo) error{opRemoveFill: removeFill}}},
}

// Actions lists the fault actions in the order the documentation gives them.
var Actions = actionNames(func(*action) bool { return true })

// OneShotActions lists the actions whose effect ends by itself (the kills):
// the only ones a fault block may give without a duration.
func OneShotActions() []string { return actionNames(func(a *action) bool { return a.oneShot }) }

// OneShot says whether the fault's effect ends by itself (pod-kill); the
// experiment does not wait for a removal.
func (s *Spec) OneShot() bool {
	a := actionNamed(s.Action)
	return a != nil && a.oneShot
}

func actionNamed(name string) *action {
	for _, a := range actions {
		if a.name == name {
			return a
		}
	}
	return nil
}

// actionNames lists the names of the actions keep keeps, in table order.
func actionNames(keep func(*action) bool) []string {
	var names []string
	for _, a := range actions {
		if keep(a) {
			names = append(names, a.name)
		}
	}
	return names
}

// objectBuilder holds what every action's object shares (name, selector,
// duration) and reads the action's own attributes, collecting diagnostics.
type objectBuilder struct {
	kind     string
	s        *Spec
	attrs    hcl.Attributes
	dc       *config.DecodeContext
	meta     metav1.ObjectMeta
	sel      v1alpha1.PodSelector
	duration *string
	diags    hcl.Diagnostics
}

func newObjectBuilder(a *action, s *Spec, attrs hcl.Attributes, dc *config.DecodeContext) *objectBuilder {
	b := &objectBuilder{kind: a.kind, s: s, attrs: attrs, dc: dc,
		meta: metav1.ObjectMeta{Name: objectName(s.Name), Namespace: Namespace}, sel: selectorOf(s.Target)}
	if s.Duration > 0 {
		ds := s.Duration.String()
		b.duration = &ds
	}
	mode, value, d := decodeMode(attrs, dc)
	b.diags = append(b.diags, d...)
	b.sel.Mode, b.sel.Value = mode, value
	return b
}

func (b *objectBuilder) typeMeta() metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: b.kind}
}

// has says whether the block sets the attribute.
func (b *objectBuilder) has(name string) bool {
	_, ok := b.attrs[name]
	return ok
}

// str reads an attribute as a string ("" when absent); numbers convert
// too: loss = 10 is "10".
func (b *objectBuilder) str(name string) string {
	a, ok := b.attrs[name]
	if !ok {
		return ""
	}
	v, d := b.dc.String(a)
	b.diags = append(b.diags, d...)
	return v
}

// num reads a whole number that must not be negative; ok is false when the
// attribute is absent.
func (b *objectBuilder) num(name string) (v int, ok bool) {
	a, ok := b.attrs[name]
	if !ok {
		return 0, false
	}
	v, d := b.dc.Int(a)
	b.diags = append(b.diags, d...)
	if !d.HasErrors() && v < 0 {
		b.invalid(name, fmt.Sprintf("The attribute %q must not be negative; found %d.", name, v))
	}
	return v, true
}

// invalid adds an "Invalid value" diagnostic on the attribute's value.
func (b *objectBuilder) invalid(name, detail string) {
	b.diags = append(b.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
		Detail: detail, Subject: b.attrs[name].Expr.Range().Ptr()})
}

// numOr reads a whole number, def when it is absent.
func (b *objectBuilder) numOr(name string, def int) int {
	if v, ok := b.num(name); ok {
		return v
	}
	return def
}

func buildPod(b *objectBuilder) client.Object {
	s := b.s
	pc := &v1alpha1.PodChaos{TypeMeta: b.typeMeta(), ObjectMeta: b.meta}
	pc.Spec.Action = v1alpha1.PodChaosAction(s.Action)
	pc.Spec.PodSelector = b.sel
	if s.Action == "container-kill" {
		// The container of a target is named after it (as the docker
		// engine names it), which is what Chaos Mesh needs here.
		pc.Spec.ContainerNames = []string{s.Target}
	}
	if s.Action == "pod-failure" {
		pc.Spec.Duration = b.duration
	}
	if g, ok := b.num("grace_period"); ok {
		pc.Spec.GracePeriod = int64(g)
	}
	return pc
}

// buildNetwork makes a NetworkChaos whose action's own spec fill sets.
func buildNetwork(fill func(*objectBuilder, *v1alpha1.NetworkChaos)) func(*objectBuilder) client.Object {
	return func(b *objectBuilder) client.Object {
		s := b.s
		nc := &v1alpha1.NetworkChaos{TypeMeta: b.typeMeta(), ObjectMeta: b.meta}
		nc.Spec.Action = v1alpha1.NetworkChaosAction(s.Action)
		nc.Spec.PodSelector = b.sel
		nc.Spec.Duration = b.duration
		nc.Spec.Direction = v1alpha1.Direction(b.str("direction"))
		if s.Upstream != "" {
			// The other side is the dependency: with it as the target,
			// Chaos Mesh accepts every direction, as the proxy does.
			host, _, _ := net.SplitHostPort(s.Upstream)
			t := selectorOf(host)
			nc.Spec.Target = &t
		}
		fill(b, nc)
		return nc
	}
}

func buildBandwidth(b *objectBuilder, nc *v1alpha1.NetworkChaos) {
	bw := &v1alpha1.BandwidthSpec{Rate: b.str("rate")}
	// Chaos Mesh's CRD needs both; these are the values of its
	// documentation's example.
	l := b.numOr("limit", 20971520)
	bf := b.numOr("buffer", 10000)
	bw.Limit, bw.Buffer = uint32(l), uint32(bf)
	nc.Spec.Bandwidth = bw
}

func buildStress(b *objectBuilder) client.Object {
	sc := &v1alpha1.StressChaos{TypeMeta: b.typeMeta(), ObjectMeta: b.meta}
	sc.Spec.PodSelector = b.sel
	sc.Spec.Duration = b.duration
	workers := b.numOr("workers", 1)
	if b.s.Action == "cpu" {
		cs := &v1alpha1.CPUStressor{Stressor: v1alpha1.Stressor{Workers: workers}}
		if l, ok := b.num("load"); ok {
			cs.Load = &l
		}
		sc.Spec.Stressors = &v1alpha1.Stressors{CPUStressor: cs}
	} else {
		sc.Spec.Stressors = &v1alpha1.Stressors{MemoryStressor: &v1alpha1.MemoryStressor{
			Stressor: v1alpha1.Stressor{Workers: workers}, Size: b.str("size")}}
	}
	return sc
}

func buildHTTP(b *objectBuilder) client.Object {
	hc := &v1alpha1.HTTPChaos{TypeMeta: b.typeMeta(), ObjectMeta: b.meta}
	hc.Spec.PodSelector = b.sel
	hc.Spec.Duration = b.duration
	hc.Spec.Target = v1alpha1.PodHttpRequest
	if b.s.Action == "abort" {
		t := true
		hc.Spec.Abort = &t
	} else {
		d := b.str("delay")
		hc.Spec.Delay = &d
	}
	hc.Spec.Port = int32(b.numOr("port", 80))
	if b.has("path") {
		p := b.str("path")
		hc.Spec.Path = &p
	}
	if b.has("method") {
		m := b.str("method")
		hc.Spec.Method = &m
	}
	if c, ok := b.num("code"); ok {
		c32 := int32(c)
		hc.Spec.Code = &c32
	}
	return hc
}

// buildProcess makes a PhysicalMachineChaos that sends a signal to the
// target's process (Chaos Mesh's chaosd finds it by name on the machines
// labelled with the target's name).
func buildProcess(b *objectBuilder) client.Object {
	pm := &v1alpha1.PhysicalMachineChaos{TypeMeta: b.typeMeta(), ObjectMeta: b.meta}
	pm.Spec.Action = v1alpha1.PMProcessAction
	pm.Spec.Selector.GenericSelectorSpec = b.sel.Selector.GenericSelectorSpec
	pm.Spec.Mode, pm.Spec.Value = b.sel.Mode, b.sel.Value
	sig, _ := b.num("signal")
	if b.has("signal") && (sig == 0 || sig > 64) {
		b.invalid("signal", fmt.Sprintf("The attribute \"signal\" is a signal number between 1 and 64, such as 15 (SIGTERM) or 1 (SIGHUP); found %d.", sig))
	}
	pm.Spec.Process = &v1alpha1.ProcessSpec{Process: processName(b), Signal: sig}
	return pm
}

// buildDiskFill makes a PhysicalMachineChaos that fills the disk of the
// target's machine with a file of size bytes at path, for the duration.
func buildDiskFill(b *objectBuilder) client.Object {
	pm := &v1alpha1.PhysicalMachineChaos{TypeMeta: b.typeMeta(), ObjectMeta: b.meta}
	pm.Spec.Action = v1alpha1.PMDiskFillAction
	pm.Spec.Selector.GenericSelectorSpec = b.sel.Selector.GenericSelectorSpec
	pm.Spec.Mode, pm.Spec.Value = b.sel.Mode, b.sel.Value
	pm.Spec.Duration = b.duration
	size, path := b.str("size"), b.str("path")
	// Chaos Mesh's validation would name the whole spec; these name the attribute.
	if _, err := v1alpha1.ParseUnit(size); err != nil && b.has("size") {
		b.invalid("size", fmt.Sprintf("The attribute \"size\" is a size in dd's units, such as \"512M\" or \"1G\"; found %q.", size))
	}
	if b.has("path") && !filepath.IsAbs(path) {
		b.invalid("path", fmt.Sprintf("The attribute \"path\" is the absolute path of the file that fills the disk, such as \"/var/lib/app/fill\"; found %q.", path))
	}
	pm.Spec.DiskFill = &v1alpha1.DiskFillSpec{DiskFileSpec: v1alpha1.DiskFileSpec{Size: size, Path: path}, FillByFallocate: true}
	return pm
}

// opRemoveFill is the local removal of a disk fill: the file goes.
const opRemoveFill = "remove-fill"

// fillDisk creates the fault's file, which must not exist yet, and
// allocates its size on the disk (fallocate; written with zeros on a file
// system without it). The removal deletes the file.
func fillDisk(_ *localEngine, s *Spec, _ *target.Instance) ([]Undo, error) {
	df := s.Object.(*v1alpha1.PhysicalMachineChaos).Spec.DiskFill
	size, err := v1alpha1.ParseUnit(df.Size)
	if err != nil || size > math.MaxInt64 {
		return nil, fmt.Errorf("fault %q: size %q: %v", s.Name, df.Size, err)
	}
	f, err := os.OpenFile(df.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fault %q: creating the file that fills the disk: %w", s.Name, err)
	}
	undo := []Undo{{Engine: "local", Op: opRemoveFill, Args: map[string]string{"path": df.Path}}}
	err = syscall.Fallocate(int(f.Fd()), 0, 0, int64(size))
	if errors.Is(err, syscall.EOPNOTSUPP) {
		_, err = io.CopyN(f, zeros{}, int64(size))
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(df.Path)
		return nil, fmt.Errorf("fault %q: filling %s with %s: %w", s.Name, df.Path, df.Size, err)
	}
	return undo, nil
}

// removeFill deletes the file of a disk fill; a file already gone is no error.
func removeFill(_ context.Context, _ *localEngine, u Undo) error {
	if err := os.Remove(u.Args["path"]); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing the file that fills the disk: %w", err)
	}
	return nil
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// processName is the name of the target's program, as chaosd looks for it.
func processName(b *objectBuilder) string {
	if b.dc != nil && b.dc.Config() != nil {
		if t := b.dc.Config().Targets[b.s.Target]; t != nil && t.Process != nil && len(t.Process.Command) > 0 {
			return strings.Trim(filepath.Base(t.Process.Command[0]), "{}")
		}
	}
	return b.s.Target
}

// describeFields names an action's own attributes for a diagnostic.
func describeFields(a *action) string {
	if len(a.fields) == 0 {
		return "no settings of its own"
	}
	q := make([]string, len(a.fields))
	for i, n := range a.fields {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
