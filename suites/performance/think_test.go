package performance

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
)

// A step's think_time is the user's pause before it: the server sees the
// step that long after the answer before, and neither the step's latency
// nor the journey's carries the pause.
func TestAJourneyPausesForEachStepsThinkTimeOutsideItsLatency(t *testing.T) {
	var mu sync.Mutex
	answered := map[string]time.Time{} // trace id -> when /page was answered
	var gaps []time.Duration
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trace := strings.Split(r.Header.Get("traceparent"), "-")[1]
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/page":
			answered[trace] = time.Now()
		case "/click":
			if at, ok := answered[trace]; ok {
				gaps = append(gaps, time.Since(at))
			}
		}
	}))
	defer srv.Close()
	res, sum, _ := runLoad(t, srv.URL, `load {
    rate     = 10
    duration = "1s"
  }
  journey "browse" {
    step "page" {
      http { path = "/page" }
      expect { status = 200 }
    }
    step "click" {
      think_time = "300ms"
      http { path = "/click" }
      expect { status = 200 }
    }
  }`)
	if res.Status != "passed" {
		t.Fatalf("the load %s: %s", res.Status, res.Message)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(gaps) < 8 {
		t.Fatalf("the server saw %d clicks after a page, want about 10", len(gaps))
	}
	for _, g := range gaps {
		if g < 300*time.Millisecond {
			t.Errorf("a click came %s after its page was answered, before the 300 ms think time", g)
		}
	}
	for _, st := range sum.Steps {
		if st.LatencyMS.Max >= 250 {
			t.Errorf("step %s: max latency %.1f ms holds the pause", st.Name, st.LatencyMS.Max)
		}
	}
	if len(sum.Journeys) != 1 || sum.Journeys[0].LatencyMS.Max >= 250 || sum.Journeys[0].Requests < 8 {
		t.Errorf("the journey's time holds the pause or it did not run: %+v", sum.Journeys)
	}
}

func TestANegativeThinkTimeIsRefusedOnItsLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.hcl"), []byte(`target "t" { url = "http://127.0.0.1:1" }
performance "x" {
  target = target.t
  load {
    rate     = 1
    duration = "1s"
  }
  journey "j" {
    step "s" {
      think_time = "-1s"
      http { path = "/" }
    }
  }
}
`), 0o644)
	_, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "p.hcl:10") || !strings.Contains(diags.Error(), "think_time") {
		t.Fatalf("want think_time refused at p.hcl:10, got %v", diags)
	}
}
