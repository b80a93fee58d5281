package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestKubernetesTargetsDecode(t *testing.T) {
	dir := write(t, map[string]string{"t.hcl": `
target "svc" {
  kubernetes {
    namespace  = "payments"
    service    = "bank"
    port       = 80
    kubeconfig = "kube/config"
    context    = "uat"
  }
}
target "pods" {
  kubernetes {
    selector  = { app = "bank", "app.kubernetes.io/part-of" = "core" }
    port      = 8080
    container = "bank"
    scheme    = "https"
  }
}
`})
	cfg := mustLoad(t, dir, Options{})
	k := cfg.Targets["svc"].Kubernetes
	if k == nil || k.Namespace != "payments" || k.Service != "bank" || k.Port != 80 || k.Context != "uat" ||
		k.Kubeconfig != filepath.Join(dir, "kube/config") || k.Scheme != "http" {
		t.Fatalf("svc decoded as %+v", k)
	}
	p := cfg.Targets["pods"].Kubernetes
	if p == nil || p.Selector["app.kubernetes.io/part-of"] != "core" || p.Port != 8080 || p.Container != "bank" || p.Scheme != "https" || p.Namespace != "" {
		t.Fatalf("pods decoded as %+v", p)
	}
}

func TestBadKubernetesTargetsAreRefusedOnTheirLine(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"service and selector", `target "x" {
  kubernetes {
    service  = "bank"
    selector = { app = "bank" }
  }
}`, `t.hcl:4,5-13: Both service and selector`},
		{"neither", `target "x" {
  kubernetes { namespace = "payments" }
}`, `t.hcl:2,3-13: Missing service or selector`},
		{"selector without port", `target "x" {
  kubernetes { selector = { app = "bank" } }
}`, `t.hcl:2,3-13: Missing required attribute; A kubernetes target chosen by selector needs port`},
		{"bad namespace", `target "x" {
  kubernetes {
    namespace = "Payments_EU"
    service   = "bank"
  }
}`, `t.hcl:3,17-30: Invalid Kubernetes name; The attribute "namespace" must be a Kubernetes name; "Payments_EU" is not`},
		{"bad label", `target "x" {
  kubernetes {
    selector = { app = "bank/core" }
    port     = 8080
  }
}`, `t.hcl:3,16-37: Invalid label selector; The attribute "selector" holds Kubernetes labels; the value "bank/core" of "app"`},
		{"bad port", `target "x" {
  kubernetes {
    service = "bank"
    port    = 70000
  }
}`, `t.hcl:4,15-20: Invalid port`},
		{"unknown attribute", `target "x" {
  kubernetes {
    service = "bank"
    label   = "x"
  }
}`, `t.hcl:4,5-10: Unsupported argument`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := write(t, map[string]string{"t.hcl": c.src})
			_, _, diags := Load(dir, Options{Kinds: []SuiteKind{plainKind}})
			if got := diags.Error(); !strings.Contains(got, c.want) {
				t.Fatalf("diagnostics\n%s\ndo not contain\n%s", got, c.want)
			}
		})
	}
}
