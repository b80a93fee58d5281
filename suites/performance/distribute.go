package performance

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cloudtest/cloudtest/internal/config"
)

// A load can be shared by several generators (`workers = N` in the load
// block). The split follows k6's execution segments for N equal segments:
// generator i of N takes the arrivals whose index n (from 0, in the order of
// one generator's schedule, ramps and stages included) has n mod N = i, and
// sends each at the time one generator would have. The union of the N
// schedules is therefore exactly the one generator's schedule. Virtual
// users of a closed model, max_requests and the rows of a feed are striped
// the same way, so that no two generators share a user or a row.

// maxLocalWorkers bounds the generators started on this machine: each is a
// cloudtest process. maxPodWorkers bounds the pods of runner = "kubernetes"
// (the coordinator holds one attach stream per pod).
const (
	maxLocalWorkers = 64
	maxPodWorkers   = 500
)

// runners are the ways generators are started.
var runners = []string{"local", "kubernetes"}

// decodeWorkers reads workers and runner; bad is set when the load block
// already has errors (the checks against concurrency and max_requests
// would then repeat them).
func decodeWorkers(l *Load, attrs hcl.Attributes, dc *config.DecodeContext, bad bool) hcl.Diagnostics {
	var diags, d hcl.Diagnostics
	wa, hasWorkers := attrs["workers"]
	ra, hasRunner := attrs["runner"]
	if hasRunner {
		l.Runner, d = dc.OneOf(ra, runners...)
		diags = append(diags, d...)
		l.RunnerRange = ra.Expr.Range()
	}
	if hasWorkers {
		l.Workers, d = dc.Int(wa)
		diags = append(diags, d...)
		if !d.HasErrors() {
			lim := limits{attrs: attrs}
			most := maxLocalWorkers
			if l.Runner == "kubernetes" {
				most = maxPodWorkers
			}
			lim.count("workers", l.Workers, most)
			diags = append(diags, lim.diags...)
		}
	}
	if l.Pods != nil && l.Runner != "kubernetes" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Kubernetes block without the kubernetes runner",
			Detail:  `The kubernetes block of a load says how its generator pods run; it needs runner = "kubernetes" (and workers = N).`,
			Subject: l.Pods.DeclRange.Ptr()})
	}
	if hasRunner {
		switch {
		case diags.HasErrors():
		case !hasWorkers:
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Runner without workers",
				Detail:  fmt.Sprintf("runner = %q starts generators, but the load block does not say how many: add workers = 3, say.", l.Runner),
				Subject: ra.Expr.Range().Ptr()})
		}
	} else if hasWorkers {
		l.Runner = "local"
	}
	if !hasWorkers || diags.HasErrors() || bad || l.Workers < 2 {
		return diags
	}
	// Every generator must have something to send.
	switch {
	case l.Concurrency > 0 && l.Workers > l.Concurrency:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "More generators than virtual users",
			Detail:  fmt.Sprintf("workers = %d shares %d virtual users: each generator needs at least one; lower workers to %d or less.", l.Workers, l.Concurrency, l.Concurrency),
			Subject: wa.Expr.Range().Ptr()})
	case l.MaxRequests > 0 && l.Workers > l.MaxRequests:
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "More generators than requests",
			Detail:  fmt.Sprintf("workers = %d shares max_requests = %d: each generator needs at least one journey; lower workers to %d or less.", l.Workers, l.MaxRequests, l.MaxRequests),
			Subject: wa.Expr.Range().Ptr()})
	}
	return diags
}

// segment is generator i's share of a load split among n (n 0 or 1: the
// whole load).
type segment struct{ i, n int }

func (s segment) whole() bool { return s.n <= 1 }

// global is the index in one generator's order of this generator's k-th
// arrival (or user, or row).
func (s segment) global(k uint64) uint64 {
	if s.whole() {
		return k
	}
	return k*uint64(s.n) + uint64(s.i)
}

// share is how many of total (arrivals, users, requests) fall to this
// generator: the indices below total with index mod n = i.
func (s segment) share(total int) int {
	if s.whole() {
		return total
	}
	if total <= s.i {
		return 0
	}
	return (total - s.i + s.n - 1) / s.n
}

// part is the load block of generator i of n: its share of the virtual
// users and of max_requests; its schedule is cut by schedule().
func (l Load) part(i, n int) Load {
	l.seg = segment{i: i, n: n}
	l.Concurrency = l.seg.share(l.Concurrency)
	l.MaxRequests = l.seg.share(l.MaxRequests)
	return l
}

// segmented is generator seg.i's part of a schedule: its hit k is the
// whole schedule's hit seg.global(k), due at the same time.
type segmented struct {
	whole schedule
	seg   segment
}

func (s segmented) due(k uint64) time.Duration { return s.whole.due(s.seg.global(k)) }

// expected is this generator's share of the hits due by d (a first guess:
// dueCount settles the exact count with due).
func (s segmented) expected(d time.Duration) float64 {
	return max(0, (s.whole.expected(d)-float64(s.seg.i))/float64(s.seg.n))
}

func (s segmented) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	return s.due(hits) - elapsed, false
}

func (s segmented) Rate(elapsed time.Duration) float64 {
	return s.whole.Rate(elapsed) / float64(s.seg.n)
}

var podsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "image"}, {Name: "namespace"}, {Name: "kubeconfig"}, {Name: "context"}, {Name: "requests"}, {Name: "limits"},
}}

// podResources are the resources a generator pod's requests and limits name.
var podResources = []string{"cpu", "memory", "ephemeral-storage"}

// decodePods reads the load's kubernetes block (fleet_kube.go).
func decodePods(l *Load, b *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(podsSchema)
	if l.Pods != nil {
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate kubernetes block",
			Detail: "A load block takes one kubernetes block.", Subject: b.DefRange.Ptr()})
	}
	p := &PodSpec{DeclRange: b.DefRange}
	l.Pods = p
	var d hcl.Diagnostics
	for _, f := range []struct {
		name string
		dst  *string
	}{{"image", &p.Image}, {"namespace", &p.Namespace}, {"kubeconfig", &p.Kubeconfig}, {"context", &p.Context}} {
		if a, ok := content.Attributes[f.name]; ok {
			*f.dst, d = decodePodString(f.name, a, dc)
			diags = append(diags, d...)
		}
	}
	for _, f := range []struct {
		name string
		dst  *map[string]resource.Quantity
	}{{"requests", &p.Requests}, {"limits", &p.Limits}} {
		if a, ok := content.Attributes[f.name]; ok {
			*f.dst, d = decodePodResources(f.name, a, dc)
			diags = append(diags, d...)
		}
	}
	if !diags.HasErrors() {
		diags = append(diags, checkPodRequests(p, content)...)
	}
	return diags
}

// decodePodString decodes one of the kubernetes block's string attributes
// (image, namespace, kubeconfig, context): not empty, a namespace a
// Kubernetes name, a relative kubeconfig taken from the file that names it.
func decodePodString(name string, a *hcl.Attribute, dc *config.DecodeContext) (string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	v, d := dc.String(a)
	diags = append(diags, d...)
	if !d.HasErrors() && strings.TrimSpace(v) == "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty value",
			Detail: fmt.Sprintf("%s must not be empty; leave it out for the default.", name), Subject: a.Expr.Range().Ptr()})
	}
	if name == "namespace" && !d.HasErrors() && v != "" {
		if errs := validation.IsDNS1123Label(v); len(errs) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid namespace",
				Detail: fmt.Sprintf("namespace %q is not a Kubernetes namespace name: %s.", v, strings.Join(errs, "; ")), Subject: a.Expr.Range().Ptr()})
		}
	}
	if name == "kubeconfig" && v != "" && !filepath.IsAbs(v) && !strings.HasPrefix(v, "~") {
		// Relative to the file that names it, as a target's kubeconfig.
		v = filepath.Join(filepath.Dir(a.Expr.Range().Filename), v)
	}
	return v, diags
}

// decodePodResources decodes the kubernetes block's requests or limits: a
// map of the podResources to Kubernetes quantities above zero. The map is
// nil when the attribute is not a map of strings.
func decodePodResources(name string, a *hcl.Attribute, dc *config.DecodeContext) (map[string]resource.Quantity, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	m, d := dc.StringMap(a)
	diags = append(diags, d...)
	if d.HasErrors() {
		return nil, diags
	}
	out := map[string]resource.Quantity{}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if !slices.Contains(podResources, k) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown resource",
				Detail: fmt.Sprintf("%s takes %s; found %q.", name, strings.Join(podResources, ", "), k), Subject: a.Expr.Range().Ptr()})
			continue
		}
		q, err := resource.ParseQuantity(v)
		if err != nil || q.Sign() <= 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid quantity",
				Detail: fmt.Sprintf("%s.%s = %q is not a Kubernetes quantity above zero, such as \"500m\" (cpu) or \"256Mi\" (memory).", name, k, v), Subject: a.Expr.Range().Ptr()})
			continue
		}
		out[k] = q
	}
	return out, diags
}

// checkPodRequests checks that no request of the pods is above its limit.
func checkPodRequests(p *PodSpec, content *hcl.BodyContent) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, k := range slices.Sorted(maps.Keys(p.Requests)) {
		req := p.Requests[k]
		if lim, ok := p.Limits[k]; ok && req.Cmp(lim) > 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Request above its limit",
				Detail: fmt.Sprintf("requests.%s = %s is above limits.%s = %s.", k, req.String(), k, lim.String()), Subject: content.Attributes["requests"].Expr.Range().Ptr()})
		}
	}
	return diags
}

// checkPodTargets refuses, on the runner's line, a runner = "kubernetes"
// whose load goes to a target the generator pods cannot reach (one on this
// machine), or to a URL target without a namespace for the pods.
func (s *Suite) checkPodTargets(dc *config.DecodeContext) hcl.Diagnostics {
	if s.Load.Runner != "kubernetes" || dc == nil || dc.Config() == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, name := range []string{s.Target, s.Compare} {
		t := dc.Config().Targets[name]
		if t == nil || t.Kubernetes != nil {
			continue
		}
		where := ""
		switch {
		case t.Embedded != "":
			where = "is the embedded demo bank, which runs inside this cloudtest process"
		case t.Process != nil:
			where = "is a process that cloudtest starts on this machine"
		case t.Container != nil:
			where = "is a container on this machine's Docker, published on its loopback"
		case loopback(t.URL):
			where = fmt.Sprintf("is at %s, on this machine's loopback", t.URL)
		}
		if where != "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Target out of the generator pods' reach",
				Detail:  fmt.Sprintf(`runner = "kubernetes" sends the load from pods in a cluster, but target %q %s, which the pods cannot reach: make it a Kubernetes target (a kubernetes block) or give it an address the cluster reaches, or use runner = "local".`, name, where),
				Subject: s.Load.RunnerRange.Ptr()})
			continue
		}
		if s.Load.Pods == nil || s.Load.Pods.Namespace == "" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Namespace of the generator pods",
				Detail:  fmt.Sprintf(`Target %q is a URL, not a Kubernetes target, so it says no cluster or namespace for the generator pods: add kubernetes { namespace = "load" } to the load block (and kubeconfig = and context = unless kubectl's defaults are the cluster's).`, name),
				Subject: s.Load.RunnerRange.Ptr()})
		}
	}
	return diags
}
