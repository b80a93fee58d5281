package remotewrite_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/remotewrite"
	"github.com/cloudtest/cloudtest/internal/remotewrite/promtest"
)

// TestARealPrometheusStoresWhatIsPushed pushes two series with several
// labels and samples and reads them back from Prometheus's query API.
func TestARealPrometheusStoresWhatIsPushed(t *testing.T) {
	base := promtest.Start(t)
	c := remotewrite.New(promtest.WriteURL(base))
	now := time.Now().Truncate(time.Millisecond)
	err := c.Push(context.Background(), []remotewrite.Series{
		{Name: "cloudtest_test_total", Labels: map[string]string{"suite": "checkout", "run_id": "r-1", "empty": ""},
			Samples: []remotewrite.Sample{{Value: 3, Time: now.Add(-2 * time.Second)}, {Value: 42.5, Time: now}}},
		{Name: "cloudtest_test_total", Labels: map[string]string{"suite": "login › step", "run_id": "r-1"},
			Samples: []remotewrite.Sample{{Value: -1e-3, Time: now}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := promtest.Eventually(t, base, `cloudtest_test_total{run_id="r-1"}`, func(s []promtest.Sample) error {
		if len(s) != 2 {
			return fmt.Errorf("%d series", len(s))
		}
		return nil
	})
	for _, s := range got {
		switch s.Labels["suite"] {
		case "checkout":
			if s.Value != 42.5 {
				t.Errorf("checkout: %g, want the latest sample 42.5", s.Value)
			}
			if _, ok := s.Labels["empty"]; ok {
				t.Error("an empty label was stored")
			}
		case "login › step":
			if s.Value != -1e-3 {
				t.Errorf("login: %g", s.Value)
			}
		default:
			t.Errorf("unexpected series %v", s)
		}
	}
	// Both samples of the first series are there.
	n := promtest.Query(t, base, `count_over_time(cloudtest_test_total{suite="checkout"}[1m])`)
	if len(n) != 1 || n[0].Value != 2 {
		t.Errorf("samples of the checkout series: %v, want 2", n)
	}
}

func TestAPushTheServerRefusesIsAnError(t *testing.T) {
	base := promtest.Start(t)
	c := remotewrite.New(base + "/api/v1/no-such-endpoint")
	if err := c.Push(context.Background(), []remotewrite.Series{{Name: "x", Samples: []remotewrite.Sample{{1, time.Now()}}}}); err == nil {
		t.Fatal("a push to a wrong path succeeded")
	}
}
