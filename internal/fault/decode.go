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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Attributes every fault block may have, whatever its action.
var commonAttrs = []string{"action", "engine", "target", "upstream", "listen", "after", "duration", "mode", "value"}

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
	for _, a := range actions {
		for _, n := range a.fields {
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
	s, attrs, diags := decodeCommon(b, dc, suiteTarget)
	if s.Action == "" || diags.HasErrors() {
		return s, diags
	}
	diags = append(diags, checkSettings(s, attrs, dc, b)...)
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

// decodeCommon reads the attributes every fault block may have.
func decodeCommon(b *hcl.Block, dc *config.DecodeContext, suiteTarget string) (*Spec, hcl.Attributes, hcl.Diagnostics) {
	s := &Spec{Engine: engines[0].name, Target: suiteTarget, DeclRange: b.DefRange}
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
		s.Engine, d = dc.OneOf(a, engineNames()...)
		diags = append(diags, d...)
	}
	if a, ok := attrs["target"]; ok {
		s.Target, d = dc.TargetRef(a)
		diags = append(diags, d...)
	}
	if _, ok := attrs["engine"]; !ok && isKubeTarget(dc, s.Target) {
		s.Engine = "kubernetes" // a fault on a pod is the cluster's to carry out
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"upstream", &s.Upstream}, {"listen", &s.Listen}} {
		if a, ok := attrs[f.name]; ok {
			*f.dst, d = dc.String(a)
			diags = append(diags, d...)
			if !d.HasErrors() {
				diags = append(diags, checkLoopback(a, *f.dst)...)
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
	return s, attrs, diags
}

// checkSettings checks the block's attributes against its action and its
// engine: every problem is reported, none stops the others.
func checkSettings(s *Spec, attrs hcl.Attributes, dc *config.DecodeContext, b *hcl.Block) hcl.Diagnostics {
	a, k := actionNamed(s.Action), engineNamed(s.Engine)
	diags := checkFields(a, attrs)
	for _, r := range a.required {
		if _, ok := attrs[r.name]; !ok {
			diags = append(diags, config.Required(b, r.name, r.example))
		}
	}
	if !k.carries(a) {
		subject := attrs["action"].Expr.Range()
		if e, ok := attrs["engine"]; ok {
			subject = e.Expr.Range()
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Action not available on this engine",
			Detail: fmt.Sprintf("The %s engine cannot carry out action %q; it can carry out %s.%s",
				k.name, a.name, strings.Join(k.actionNames(), ", "), k.note),
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
	diags = append(diags, checkEngineTarget(s, k, dc, b)...)
	diags = append(diags, checkPercentages(attrs, dc)...)
	return diags
}

// checkFields refuses the attributes of other actions, most likely a
// mix-up of actions, in the order they are written.
func checkFields(a *action, attrs hcl.Attributes) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, at := range config.SortedAttrs(attrs) {
		if slices.Contains(commonAttrs, at.Name) || slices.Contains(a.fields, at.Name) {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Attribute does not apply",
			Detail:   fmt.Sprintf("The attribute %q does not apply to action %q; that action takes %s.", at.Name, a.name, describeFields(a)),
			Subject:  at.NameRange.Ptr(),
		})
	}
	return diags
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

// checkEngineTarget refuses a fault whose target its engine cannot act
// on: a process fault on a target that is no supervised process (local),
// a fault on a target that is no container (docker) or not in Kubernetes.
func checkEngineTarget(s *Spec, k *engineKind, dc *config.DecodeContext, b *hcl.Block) hcl.Diagnostics {
	if s.Target == "" || dc == nil || dc.Config() == nil {
		return nil
	}
	t := dc.Config().Targets[s.Target]
	if t == nil {
		return nil
	}
	return k.checkTarget(s, t, b)
}

// build makes the Chaos Mesh object of s from the action's attributes and
// checks the settings the engine cannot apply.
func build(s *Spec, attrs hcl.Attributes, dc *config.DecodeContext) (client.Object, hcl.Diagnostics) {
	a := actionNamed(s.Action)
	b := newObjectBuilder(a, s, attrs, dc)
	obj := a.build(b)
	diags := b.diags
	if k := engineNamed(s.Engine); k.checkAttrs != nil {
		diags = append(diags, k.checkAttrs(s, attrs)...)
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
