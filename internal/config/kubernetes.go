package config

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Kubernetes is a target inside a Kubernetes cluster, reached from outside
// through a port-forward over the API server.
type Kubernetes struct {
	// Namespace is the target's namespace; empty means the kubeconfig
	// context's namespace, else "default".
	Namespace string
	// Exactly one of Service and Selector is set.
	Service  string
	Selector map[string]string
	// Port is the Service's port (a Service with one port needs none) or,
	// with a selector, the pods' container port.
	Port int
	// Kubeconfig and Context are found the way kubectl finds them when
	// empty: $KUBECONFIG, then ~/.kube/config, and its current context.
	Kubeconfig string
	Context    string
	// Container names the pods' container that container-kill acts on
	// (the pods' first container when empty).
	Container string
	// Scheme is http or https, for the target's URL.
	Scheme    string
	DeclRange hcl.Range
}

var kubernetesSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "namespace"},
		{Name: "service"},
		{Name: "selector"},
		{Name: "port"},
		{Name: "kubeconfig"},
		{Name: "context"},
		{Name: "container"},
		{Name: "scheme"},
	},
}

func decodeKubernetes(b *hcl.Block, dc *DecodeContext) (*Kubernetes, hcl.Diagnostics) {
	k := &Kubernetes{Scheme: "http", DeclRange: b.DefRange}
	content, diags := b.Body.Content(kubernetesSchema)
	var d hcl.Diagnostics
	attrs := content.Attributes
	diags = append(diags, decodeKubernetesName(attrs, dc, "namespace", &k.Namespace, validation.IsDNS1123Label)...)
	diags = append(diags, decodeKubernetesName(attrs, dc, "service", &k.Service, validation.IsDNS1035Label)...)
	diags = append(diags, decodeKubernetesName(attrs, dc, "container", &k.Container, validation.IsDNS1123Label)...)
	if a, ok := attrs["selector"]; ok {
		diags = append(diags, decodeKubernetesSelector(k, a, dc)...)
	}
	if a, ok := attrs["port"]; ok {
		k.Port, d = dc.Int(a)
		diags = append(diags, d...)
		if !d.HasErrors() && (k.Port < 1 || k.Port > 65535) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid port",
				Detail: fmt.Sprintf("The attribute \"port\" must be between 1 and 65535; found %d.", k.Port), Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := attrs["kubeconfig"]; ok {
		k.Kubeconfig, d = dc.String(a)
		diags = append(diags, d...)
		if k.Kubeconfig != "" && !filepath.IsAbs(k.Kubeconfig) && !strings.HasPrefix(k.Kubeconfig, "~") {
			k.Kubeconfig = filepath.Join(filepath.Dir(a.Expr.Range().Filename), k.Kubeconfig)
		}
	}
	if a, ok := attrs["context"]; ok {
		k.Context, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := attrs["scheme"]; ok {
		k.Scheme, d = dc.OneOf(a, "http", "https")
		diags = append(diags, d...)
	}
	return k, append(diags, checkKubernetesPods(k, b, attrs)...)
}

// decodeKubernetesName decodes the attribute name, when it is set, into dst
// and checks it with check, one of the Kubernetes name validations.
func decodeKubernetesName(attrs hcl.Attributes, dc *DecodeContext, name string, dst *string, check func(string) []string) hcl.Diagnostics {
	a, ok := attrs[name]
	if !ok {
		return nil
	}
	var diags, d hcl.Diagnostics
	*dst, d = dc.String(a)
	diags = append(diags, d...)
	if d.HasErrors() {
		return diags
	}
	if errs := check(*dst); len(errs) > 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid Kubernetes name",
			Detail:  fmt.Sprintf("The attribute %q must be a Kubernetes name; %q is not: %s.", name, *dst, strings.Join(errs, "; ")),
			Subject: a.Expr.Range().Ptr()})
	}
	return diags
}

// decodeKubernetesSelector decodes the selector attribute and checks that it
// holds at least one label and that every key and value is a valid label.
func decodeKubernetesSelector(k *Kubernetes, a *hcl.Attribute, dc *DecodeContext) hcl.Diagnostics {
	var diags, d hcl.Diagnostics
	k.Selector, d = dc.StringMap(a)
	diags = append(diags, d...)
	if !d.HasErrors() && len(k.Selector) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty selector",
			Detail:  "The attribute \"selector\" must name at least one label of the target's pods, such as { app = \"bank\" }.",
			Subject: a.Expr.Range().Ptr()})
	}
	for _, key := range slices.Sorted(maps.Keys(k.Selector)) {
		var problems []string
		for _, e := range validation.IsQualifiedName(key) {
			problems = append(problems, fmt.Sprintf("the key %q: %s", key, e))
		}
		for _, e := range validation.IsValidLabelValue(k.Selector[key]) {
			problems = append(problems, fmt.Sprintf("the value %q of %q: %s", k.Selector[key], key, e))
		}
		if len(problems) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid label selector",
				Detail:  "The attribute \"selector\" holds Kubernetes labels; " + strings.Join(problems, "; ") + ".",
				Subject: a.Expr.Range().Ptr()})
		}
	}
	return diags
}

// checkKubernetesPods checks that a kubernetes block names its pods one way,
// by service or by selector, and that a selector comes with a port.
func checkKubernetesPods(k *Kubernetes, b *hcl.Block, attrs hcl.Attributes) hcl.Diagnostics {
	_, hasService := attrs["service"]
	_, hasSelector := attrs["selector"]
	switch {
	case hasService && hasSelector:
		return hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Both service and selector",
			Detail:  "A kubernetes block names the target's pods by service = \"name\" or by selector = { label = \"value\" }, not both.",
			Subject: attrs["selector"].NameRange.Ptr()}}
	case !hasService && !hasSelector:
		return hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing service or selector",
			Detail:  "A kubernetes block needs service = \"name\" (a Service in the namespace) or selector = { app = \"bank\" } (labels of the target's pods).",
			Subject: b.DefRange.Ptr()}}
	case hasSelector && k.Port == 0 && attrs["port"] == nil:
		return hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required attribute",
			Detail:  "A kubernetes target chosen by selector needs port, the pods' container port, such as port = 8080.",
			Subject: b.DefRange.Ptr()}}
	}
	return nil
}
