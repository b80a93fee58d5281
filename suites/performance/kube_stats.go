package performance

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudtest/cloudtest/internal/target"
)

// kubeSampler reads the CPU and memory of a Kubernetes target's ready pods
// from the kubelet's resource metrics (/metrics/resource, the endpoint
// metrics-server reads), through the API server's node proxy: no metrics
// server needed, and no connection to the node from here. The figures are
// the sums over the pods' containers; a pod replaced in the middle starts a
// new series (its CPU counter starts again).
func kubeSampler(inst *target.Instance) (*sampler, string) {
	k := inst.Kube
	if k.Clientset == nil {
		return nil, "the target's cluster has no client"
	}
	var mu sync.Mutex
	nodes := map[string]string{} // pod -> node
	nodeOf := func(ctx context.Context, pod string) (string, error) {
		mu.Lock()
		n, ok := nodes[pod]
		mu.Unlock()
		if ok {
			return n, nil
		}
		p, err := k.Clientset.CoreV1().Pods(k.Namespace).Get(ctx, pod, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		mu.Lock()
		nodes[pod] = p.Spec.NodeName
		mu.Unlock()
		return p.Spec.NodeName, nil
	}
	return &sampler{
		source: fmt.Sprintf("the kubelet's resource metrics of the pods of target %q (namespace %s), through the API server", inst.Name, k.Namespace),
		stamped: func() (float64, int64, string, time.Time, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			return readKubeletMetrics(ctx, k, nodeOf)
		},
	}, ""
}

// readKubeletMetrics sums container_cpu_usage_seconds_total and
// container_memory_working_set_bytes over the target's ready pods; at is
// the newest sample's own time (the kubelet's, not this read's).
func readKubeletMetrics(ctx context.Context, k *target.Kube, nodeOf func(context.Context, string) (string, error)) (float64, int64, string, time.Time, error) {
	pods := k.ReadyPods()
	if len(pods) == 0 {
		return 0, 0, "", time.Time{}, fmt.Errorf("no ready pod")
	}
	slices.Sort(pods)
	want := map[string]bool{}
	byNode := map[string]bool{}
	for _, p := range pods {
		n, err := nodeOf(ctx, p)
		if err != nil {
			return 0, 0, "", time.Time{}, err
		}
		want[p], byNode[n] = true, true
	}
	var cpu, mem float64
	var at int64
	seen := map[string]bool{}
	for node := range byNode {
		raw, err := k.Clientset.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy/metrics/resource").DoRaw(ctx)
		if err != nil {
			return 0, 0, "", time.Time{}, fmt.Errorf("the kubelet of node %s: %w", node, err)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(bytes.NewReader(raw))
		if err != nil {
			return 0, 0, "", time.Time{}, fmt.Errorf("the kubelet of node %s: %w", node, err)
		}
		sum := func(name string, add func(v float64)) {
			f := families[name]
			if f == nil {
				return
			}
			for _, m := range f.Metric {
				if label(m, "namespace") != k.Namespace || !want[label(m, "pod")] {
					continue
				}
				seen[label(m, "pod")] = true
				switch {
				case m.Counter != nil:
					add(m.Counter.GetValue())
				case m.Gauge != nil:
					add(m.Gauge.GetValue())
				case m.Untyped != nil:
					add(m.Untyped.GetValue())
				}
				at = max(at, m.GetTimestampMs())
			}
		}
		sum("container_cpu_usage_seconds_total", func(v float64) { cpu += v })
		sum("container_memory_working_set_bytes", func(v float64) { mem += v })
	}
	if len(seen) < len(pods) {
		return 0, 0, "", time.Time{}, fmt.Errorf("the kubelet has no figures yet for %d of %d pods", len(pods)-len(seen), len(pods))
	}
	return cpu, int64(mem), strings.Join(pods, ","), time.UnixMilli(at), nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
