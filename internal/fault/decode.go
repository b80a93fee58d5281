package fault

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/chaos-mesh/chaos-mesh/api/genericwebhook"
	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/hashicorp/hcl/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Attributes every fault block may have, whatever its action.
var commonAttrs = []string{"action", "engine", "target", "upstream", "listen", "after", "duration", "mode", "value"}

// fieldsOf lists, per action, the attributes that carry the action's own
// settings; they bear Chaos Mesh's field names.
var fieldsOf = map[string][]string{
	"pod-kill":       {"grace_period"},
	"pod-failure":    nil,
	"container-kill": nil,
	"delay":          {"latency", "jitter", "correlation", "direction"},
	"loss":           {"loss", "correlation", "direction"},
	"corrupt":        {"corrupt", "correlation", "direction"},
	"partition":      {"direction"},
	"bandwidth":      {"rate", "limit", "buffer", "direction"},
	"cpu":            {"workers", "load"},
	"memory":         {"workers", "size"},
	"abort":          {"port", "path", "method", "code"},
	"http-delay":     {"delay", "port", "path", "method", "code"},
}

// requiredOf lists the fields without which an action does nothing (Chaos
// Mesh would accept a delay without latency, and delay by nothing).
var requiredOf = map[string][]struct{ name, example string }{
	"delay":      {{"latency", `latency = "100ms"`}},
	"loss":       {{"loss", `loss = 10 (percent)`}},
	"corrupt":    {{"corrupt", `corrupt = 10 (percent)`}},
	"bandwidth":  {{"rate", `rate = "1mbps"`}},
	"http-delay": {{"delay", `delay = "500ms"`}},
}

// Actions lists the fault actions in the order the documentation gives them.
var Actions = []string{"pod-kill", "pod-failure", "container-kill", "delay", "loss", "corrupt", "partition", "bandwidth", "cpu", "memory", "abort", "http-delay"}

// What each engine can carry out. The local engine works on TCP through
// toxiproxy, which has no toxic that alters bytes, hence no corrupt.
var engineActions = map[string][]string{
	"local":      {"pod-kill", "pod-failure", "container-kill", "delay", "loss", "partition", "bandwidth", "cpu", "memory", "abort", "http-delay"},
	"docker":     {"pod-kill", "pod-failure", "container-kill", "partition"},
	"kubernetes": kubeActions,
}

var blockSchema = func() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	seen := map[string]bool{}
	add := func(n string, req bool) {
		if !seen[n] {
			seen[n] = true
			s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n, Required: req})
		}
	}
	for _, n := range commonAttrs {
		add(n, n == "action")
	}
	for _, a := range Actions {
		for _, n := range fieldsOf[a] {
			add(n, false)
		}
	}
	return s
}()

// Namespace is the Kubernetes namespace of the Chaos Mesh objects; a team
// applying the emitted YAML edits it to theirs.
const Namespace = "default"

// Decode decodes a fault block; the fault acts on the target it names.
// DecodeFor is the same for a fault inside a suite whose target is the
// default.
func Decode(b *hcl.Block, dc *config.DecodeContext) (*Spec, hcl.Diagnostics) {
	return DecodeFor(b, dc, "")
}

// DecodeFor decodes a fault block whose target defaults to suiteTarget. It
// builds the Chaos Mesh object of the fault, applies Chaos Mesh's defaults
// and validates it with Chaos Mesh's own webhook code, so that a fault this
// accepts is one Chaos Mesh accepts too.
func DecodeFor(b *hcl.Block, dc *config.DecodeContext, suiteTarget string) (*Spec, hcl.Diagnostics) {
	s := &Spec{Engine: "local", Target: suiteTarget, DeclRange: b.DefRange}
	if len(b.Labels) > 0 {
		s.Name = b.Labels[0]
	}
	content, diags := b.Body.Content(blockSchema)
	var d hcl.Diagnostics
	attrs := content.Attributes
	if a, ok := attrs["action"]; ok {
		s.Action, d = dc.OneOf(a, Actions...)
		diags = append(diags, d...)
	}
	if a, ok := attrs["engine"]; ok {
		s.Engine, d = dc.OneOf(a, "local", "docker", "kubernetes")
		diags = append(diags, d...)
	}
	if a, ok := attrs["target"]; ok {
		s.Target, d = dc.TargetRef(a)
		diags = append(diags, d...)
	}
	if _, ok := attrs["engine"]; !ok && isKubeTarget(dc, s.Target) {
		s.Engine = "kubernetes" // a fault on a pod is the cluster's to carry out
	}
	for name, dst := range map[string]*string{"upstream": &s.Upstream, "listen": &s.Listen} {
		if a, ok := attrs[name]; ok {
			*dst, d = dc.String(a)
			diags = append(diags, d...)
			if !d.HasErrors() {
				diags = append(diags, checkLoopback(a, *dst)...)
			}
		}
	}
	if a, ok := attrs["after"]; ok {
		s.After, d = dc.Duration(a)
		diags = append(diags, d...)
	}
	if a, ok := attrs["duration"]; ok {
		s.Duration, d = dc.Duration(a)
		diags = append(diags, d...)
	}
	if s.Action == "" || diags.HasErrors() {
		return s, diags
	}

	// An attribute of another action is most likely a mix-up of actions.
	for name, a := range attrs {
		if slices.Contains(commonAttrs, name) || slices.Contains(fieldsOf[s.Action], name) {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Attribute does not apply",
			Detail:   fmt.Sprintf("The attribute %q does not apply to action %q; that action takes %s.", name, s.Action, describeFields(s.Action)),
			Subject:  a.NameRange.Ptr(),
		})
	}
	for _, r := range requiredOf[s.Action] {
		if _, ok := attrs[r.name]; !ok {
			diags = append(diags, config.Required(b, r.name, r.example))
		}
	}
	if !slices.Contains(engineActions[s.Engine], s.Action) {
		subject := attrs["action"].Expr.Range()
		if a, ok := attrs["engine"]; ok {
			subject = a.Expr.Range()
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Action not available on this engine",
			Detail: fmt.Sprintf("The %s engine cannot carry out action %q; it can carry out %s.%s",
				s.Engine, s.Action, strings.Join(engineActions[s.Engine], ", "), kubeActionNote(s.Engine)),
			Subject: subject.Ptr(),
		})
	}
	if s.Upstream != "" && s.Listen == "" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing required attribute",
			Detail:   "A fault with upstream needs listen, the loopback address the target is configured to reach its dependency at (for example listen = \"127.0.0.1:15432\"); cloudtest puts the proxy there.",
			Subject:  attrs["upstream"].Expr.Range().Ptr(),
		})
	}
	diags = append(diags, checkEngineTarget(s, dc, b)...)
	diags = append(diags, checkPercentages(attrs, dc)...)
	if diags.HasErrors() {
		return s, diags
	}

	obj, d := build(s, attrs, dc)
	diags = append(diags, d...)
	if d.HasErrors() {
		return s, diags
	}
	s.Object = obj
	s.Kind = obj.GetObjectKind().GroupVersionKind().Kind
	kubeAdjust(s, dc)
	diags = append(diags, validate(obj, attrs, b)...)
	return s, diags
}

// checkPercentages refuses shares outside 0-100, which Chaos Mesh's
// validation lets through to tc.
func checkPercentages(attrs hcl.Attributes, dc *config.DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range []string{"loss", "corrupt", "correlation"} {
		a, ok := attrs[name]
		if !ok {
			continue
		}
		v, d := dc.String(a)
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil && (f < 0 || f > 100) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail:  fmt.Sprintf("The attribute %q is a percentage and must be between 0 and 100; found %s.", name, v),
				Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}

// checkLoopback keeps the proxies on this machine: traffic goes to loopback only.
func checkLoopback(a *hcl.Attribute, hostport string) hcl.Diagnostics {
	host, _, err := net.SplitHostPort(hostport)
	ip := net.ParseIP(host)
	if err == nil && (host == "localhost" || (ip != nil && ip.IsLoopback())) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Invalid address",
		Detail:   fmt.Sprintf("The attribute %q must be a loopback host:port such as \"127.0.0.1:5432\"; found %q.", a.Name, hostport),
		Subject:  a.Expr.Range().Ptr(),
	}}
}

// checkEngineTarget refuses process faults on targets that are not
// processes cloudtest supervises (local) or containers (docker).
func checkEngineTarget(s *Spec, dc *config.DecodeContext, b *hcl.Block) hcl.Diagnostics {
	if s.Target == "" || dc == nil || dc.Config() == nil {
		return nil
	}
	t := dc.Config().Targets[s.Target]
	if t == nil {
		return nil
	}
	isProcessFault := s.Action == "pod-kill" || s.Action == "pod-failure" || s.Action == "container-kill"
	switch {
	case s.Engine == "local" && isProcessFault && t.Process == nil:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Target is not a supervised process",
			Detail:   fmt.Sprintf("Action %q on the local engine acts on a process that cloudtest starts; target %q has no process block.", s.Action, s.Target),
			Subject:  b.DefRange.Ptr(),
		}}
	case s.Engine == "kubernetes" && t.Kubernetes == nil:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Target is not in Kubernetes",
			Detail:   fmt.Sprintf("The kubernetes engine acts on pods in a cluster; target %q has no kubernetes block.", s.Target),
			Subject:  b.DefRange.Ptr(),
		}}
	case s.Engine == "docker" && t.Container == nil:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Target is not a container",
			Detail:   fmt.Sprintf("The docker engine acts on containers that cloudtest starts; target %q has no container block.", s.Target),
			Subject:  b.DefRange.Ptr(),
		}}
	}
	return nil
}

func describeFields(action string) string {
	f := fieldsOf[action]
	if len(f) == 0 {
		return "no settings of its own"
	}
	q := make([]string, len(f))
	for i, n := range f {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// build makes the Chaos Mesh object of s from the action's attributes.
func build(s *Spec, attrs hcl.Attributes, dc *config.DecodeContext) (client.Object, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	str := func(name string) string {
		a, ok := attrs[name]
		if !ok {
			return ""
		}
		v, d := dc.String(a) // numbers convert too: loss = 10 is "10"
		diags = append(diags, d...)
		return v
	}
	num := func(name string) (int, bool) {
		a, ok := attrs[name]
		if !ok {
			return 0, false
		}
		v, d := dc.Int(a)
		diags = append(diags, d...)
		if !d.HasErrors() && v < 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail:  fmt.Sprintf("The attribute %q must not be negative; found %d.", name, v),
				Subject: a.Expr.Range().Ptr()})
		}
		return v, true
	}
	var duration *string
	if s.Duration > 0 {
		ds := s.Duration.String()
		duration = &ds
	}
	meta := metav1.ObjectMeta{Name: objectName(s.Name), Namespace: Namespace}
	sel := selectorOf(s.Target)
	mode, value, d := decodeMode(attrs, dc)
	diags = append(diags, d...)
	sel.Mode, sel.Value = mode, value
	typeMeta := func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: kind}
	}

	var obj client.Object
	switch s.Action {
	case "pod-kill", "pod-failure", "container-kill":
		pc := &v1alpha1.PodChaos{TypeMeta: typeMeta(v1alpha1.KindPodChaos), ObjectMeta: meta}
		pc.Spec.Action = v1alpha1.PodChaosAction(s.Action)
		pc.Spec.PodSelector = sel
		if s.Action == "container-kill" {
			// The container of a target is named after it (as the docker
			// engine names it), which is what Chaos Mesh needs here.
			pc.Spec.ContainerNames = []string{s.Target}
		}
		if s.Action == "pod-failure" {
			pc.Spec.Duration = duration
		}
		if g, ok := num("grace_period"); ok {
			pc.Spec.GracePeriod = int64(g)
		}
		obj = pc
	case "delay", "loss", "corrupt", "partition", "bandwidth":
		nc := &v1alpha1.NetworkChaos{TypeMeta: typeMeta(v1alpha1.KindNetworkChaos), ObjectMeta: meta}
		nc.Spec.Action = v1alpha1.NetworkChaosAction(s.Action)
		nc.Spec.PodSelector = sel
		nc.Spec.Duration = duration
		nc.Spec.Direction = v1alpha1.Direction(str("direction"))
		if s.Upstream != "" {
			// The other side is the dependency: with it as the target,
			// Chaos Mesh accepts every direction, as the proxy does.
			host, _, _ := net.SplitHostPort(s.Upstream)
			t := selectorOf(host)
			nc.Spec.Target = &t
		}
		switch s.Action {
		case "delay":
			nc.Spec.Delay = &v1alpha1.DelaySpec{Latency: str("latency"), Jitter: str("jitter"), Correlation: str("correlation")}
		case "loss":
			nc.Spec.Loss = &v1alpha1.LossSpec{Loss: str("loss"), Correlation: str("correlation")}
		case "corrupt":
			nc.Spec.Corrupt = &v1alpha1.CorruptSpec{Corrupt: str("corrupt"), Correlation: str("correlation")}
		case "bandwidth":
			bw := &v1alpha1.BandwidthSpec{Rate: str("rate")}
			// Chaos Mesh's CRD needs both; these are the values of its
			// documentation's example.
			l, ok := num("limit")
			if !ok {
				l = 20971520
			}
			bf, ok := num("buffer")
			if !ok {
				bf = 10000
			}
			bw.Limit, bw.Buffer = uint32(l), uint32(bf)
			nc.Spec.Bandwidth = bw
		}
		obj = nc
	case "cpu", "memory":
		sc := &v1alpha1.StressChaos{TypeMeta: typeMeta(v1alpha1.KindStressChaos), ObjectMeta: meta}
		sc.Spec.PodSelector = sel
		sc.Spec.Duration = duration
		workers, ok := num("workers")
		if !ok {
			workers = 1
		}
		if s.Action == "cpu" {
			cs := &v1alpha1.CPUStressor{Stressor: v1alpha1.Stressor{Workers: workers}}
			if l, ok := num("load"); ok {
				cs.Load = &l
			}
			sc.Spec.Stressors = &v1alpha1.Stressors{CPUStressor: cs}
		} else {
			sc.Spec.Stressors = &v1alpha1.Stressors{MemoryStressor: &v1alpha1.MemoryStressor{
				Stressor: v1alpha1.Stressor{Workers: workers}, Size: str("size")}}
		}
		obj = sc
	case "abort", "http-delay":
		hc := &v1alpha1.HTTPChaos{TypeMeta: typeMeta(v1alpha1.KindHTTPChaos), ObjectMeta: meta}
		hc.Spec.PodSelector = sel
		hc.Spec.Duration = duration
		hc.Spec.Target = v1alpha1.PodHttpRequest
		if s.Action == "abort" {
			t := true
			hc.Spec.Abort = &t
		} else {
			d := str("delay")
			hc.Spec.Delay = &d
		}
		port, ok := num("port")
		if !ok {
			port = 80
		}
		hc.Spec.Port = int32(port)
		if _, ok := attrs["path"]; ok {
			p := str("path")
			hc.Spec.Path = &p
		}
		if _, ok := attrs["method"]; ok {
			m := str("method")
			hc.Spec.Method = &m
		}
		if c, ok := num("code"); ok {
			c32 := int32(c)
			hc.Spec.Code = &c32
		}
		obj = hc
	}
	if s.Engine == "local" && (s.Action == "abort" || s.Action == "http-delay") {
		for _, name := range []string{"path", "method", "code"} {
			if a, ok := attrs[name]; ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Attribute not available on this engine",
					Detail:  fmt.Sprintf("The local engine acts on whole TCP connections and cannot choose requests by %s; remove %q or run the fault on Kubernetes.", name, name),
					Subject: a.NameRange.Ptr()})
			}
		}
	}
	if c, ok := attrs["correlation"]; ok && s.Engine == "local" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Correlation is not applied locally",
			Detail:  "The local engine (toxiproxy) decides each connection independently; correlation is kept in the Chaos Mesh YAML only.",
			Subject: c.NameRange.Ptr()})
	}
	return obj, diags
}

// selectorOf selects the pods of a target by the label Chaos Mesh users
// conventionally give an application.
func selectorOf(app string) v1alpha1.PodSelector {
	return v1alpha1.PodSelector{
		Selector: v1alpha1.PodSelectorSpec{GenericSelectorSpec: v1alpha1.GenericSelectorSpec{
			Namespaces:     []string{Namespace},
			LabelSelectors: map[string]string{"app": app},
		}},
		Mode: v1alpha1.AllMode,
	}
}

// objectName makes a fault's name a Kubernetes object name (lower-case
// letters, digits and dashes).
func objectName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	n := strings.Trim(b.String(), "-")
	if n == "" {
		n = "fault"
	}
	if len(n) > 63 {
		n = strings.TrimRight(n[:63], "-")
	}
	return n
}

// validate applies Chaos Mesh's defaults and validation to obj. It runs the
// same field walk as the objects' ValidateCreate (genericwebhook.Validate)
// but keeps the error list, whose field paths point at the HCL attribute;
// ValidateCreate would flatten them into one string and also log through
// controller-runtime, which warns on stderr when no logger is set.
func validate(obj client.Object, attrs hcl.Attributes, b *hcl.Block) hcl.Diagnostics {
	inner, ok := obj.(v1alpha1.InnerObject)
	if !ok {
		return nil
	}
	if err := inner.Default(context.Background(), obj); err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Chaos Mesh refuses the fault", Detail: err.Error(), Subject: b.DefRange.Ptr()}}
	}
	var diags hcl.Diagnostics
	for _, e := range genericwebhook.Validate(obj) {
		subject := b.DefRange
		path := jsonPath(reflect.TypeOf(obj), e.Field)
		name := attrForPath(path, attrs)
		if a, ok := attrs[name]; ok {
			subject = a.Expr.Range()
		}
		detail := "Chaos Mesh's validation says: " + path + ": " + e.ErrorBody()
		if name != "" {
			detail += fmt.Sprintf(" (the attribute %q)", name)
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Chaos Mesh refuses the fault", Detail: detail, Subject: subject.Ptr()})
	}
	return diags
}

// jsonPath turns the Go field path of a validation error (the walker
// reports Spec.TcParameter.Delay.Latency) into the path of the YAML a
// Chaos Mesh user writes (spec.delay.latency).
func jsonPath(t reflect.Type, goPath string) string {
	var out []string
	for _, part := range strings.Split(goPath, ".") {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			out = append(out, part)
			continue
		}
		f, ok := t.FieldByName(part)
		if !ok {
			out = append(out, part) // already a JSON name (spec.direction)
			continue
		}
		t = f.Type
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			continue // an inline struct: its fields sit one level up
		}
		out = append(out, name)
	}
	return strings.Join(out, ".")
}

// Where Chaos Mesh's field names differ from the attributes'.
var pathAttr = map[string]string{
	"containerNames": "target",
	"gracePeriod":    "grace_period",
	"value":          "value",
	"stressors":      "action",
	"memory":         "action",
	"cpu":            "action",
}

// attrForPath finds the attribute a field path such as spec.delay.latency
// stands for: the deepest path element that names an attribute of the block.
func attrForPath(path string, attrs hcl.Attributes) string {
	parts := strings.Split(path, ".")
	for i := len(parts) - 1; i >= 1; i-- {
		p := parts[i]
		if j := strings.IndexByte(p, '['); j >= 0 {
			p = p[:j]
		}
		if n, ok := pathAttr[p]; ok {
			p = n
		}
		if _, ok := attrs[p]; ok {
			return p
		}
		if slices.Contains(commonAttrs, p) || blockHasAttr(p) {
			return p
		}
	}
	return ""
}

func blockHasAttr(name string) bool {
	for _, a := range blockSchema.Attributes {
		if a.Name == name {
			return true
		}
	}
	return false
}

// OneShot says whether the fault's effect ends by itself (pod-kill); the
// experiment does not wait for a removal.
func (s *Spec) OneShot() bool { return s.Action == "pod-kill" || s.Action == "container-kill" }
