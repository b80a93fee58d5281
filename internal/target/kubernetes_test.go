package target

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/testkube"
)

func kget(url string) (int, string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// TestAKubernetesTargetFollowsItsPodWhenTheDeploymentRecreatesIt reaches
// the demo bank in the cluster through the port-forward, by Service and by
// selector, deletes the pod the traffic goes to, and checks that requests
// succeed again through the same URL once the Deployment's new pod is
// ready, and that they reach that new pod.
func TestAKubernetesTargetFollowsItsPodWhenTheDeploymentRecreatesIt(t *testing.T) {
	t.Parallel()
	c := testkube.Get(t)
	ns := c.Namespace(t)
	c.DeployDemobank(t, ns, 1)
	ctx := context.Background()
	for _, spec := range []*config.Kubernetes{
		{Namespace: ns, Service: "bank", Kubeconfig: c.Kubeconfig, Scheme: "http"},
		{Namespace: ns, Selector: map[string]string{"app": "bank"}, Port: 8080, Kubeconfig: c.Kubeconfig, Scheme: "http"},
	} {
		k, err := StartKube(ctx, "bank", spec)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.WaitReady(ctx, 60*time.Second); err != nil {
			t.Fatal(err)
		}
		code, body, err := kget(k.URL() + "/healthz")
		if err != nil || code != 200 {
			t.Fatalf("service=%q: GET /healthz through the port-forward: %d %q %v", spec.Service, code, body, err)
		}
		old := k.LastPod()
		if old == "" || !strings.HasPrefix(old, "bank-") {
			t.Fatalf("the request went to pod %q", old)
		}
		zero := int64(0)
		if err := c.Clientset.CoreV1().Pods(ns).Delete(ctx, old, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(90 * time.Second)
		for {
			code, _, err = kget(k.URL() + "/healthz")
			if err == nil && code == 200 && k.LastPod() != old {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("service=%q: no answer from a new pod 90 s after deleting %s: last %d %v (last pod %s)\n%s",
					spec.Service, old, code, err, k.LastPod(), c.PodReport(ns))
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Logf("service=%q: pod %s deleted, now served by %s", spec.Service, old, k.LastPod())
		if err := k.Close(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := kget(k.URL() + "/healthz"); err == nil {
			t.Fatal("the port-forward still answers after Close")
		}
		c.WaitDeployment(t, ns, "bank", 90*time.Second)
	}
}

// TestAKubernetesTargetTakesItsClusterTheWayKubectlDoes loads the cluster
// from $KUBECONFIG with no kubeconfig in the block, and names a missing
// Service and a missing context in its errors.
func TestAKubernetesTargetTakesItsClusterTheWayKubectlDoes(t *testing.T) {
	c := testkube.Get(t)
	ns := c.Namespace(t)
	t.Setenv("KUBECONFIG", c.Kubeconfig)
	t.Setenv("HOME", t.TempDir()) // no ~/.kube/config to fall back on
	ctx := context.Background()
	_, err := StartKube(ctx, "bank", &config.Kubernetes{Namespace: ns, Service: "nowhere", Scheme: "http"})
	if err == nil || !strings.Contains(err.Error(), "Service "+ns+"/nowhere") || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("a missing Service: %v", err)
	}
	_, err = StartKube(ctx, "bank", &config.Kubernetes{Namespace: ns, Service: "bank", Context: "elsewhere", Scheme: "http"})
	if err == nil || !strings.Contains(err.Error(), `context "elsewhere"`) {
		t.Fatalf("a missing context: %v", err)
	}
	// An explicit kubeconfig that does not exist is named.
	missing := filepath.Join(t.TempDir(), "kubeconfig")
	_, err = StartKube(ctx, "bank", &config.Kubernetes{Namespace: ns, Service: "bank", Kubeconfig: missing, Scheme: "http"})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("a missing kubeconfig: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("loading created the kubeconfig")
	}
}
