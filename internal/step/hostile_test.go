package step

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// hostile answers bodies a target should not send: JSON nested 8,000 deep
// (20 KB, which cost go-cty 1 GB to decode), JSON just within the depth
// bound, and JSON larger than response.json decodes.
func hostile(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/deep", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat(`[`, 8000)+`1`+strings.Repeat(`]`, 8000)+strings.Repeat(" ", 4000))
	})
	mux.HandleFunc("/within", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"a":"[[[[","b":`+strings.Repeat(`[`, maxJSONDepth-1)+`1`+strings.Repeat(`]`, maxJSONDepth-1)+`}`)
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"pad":"`+strings.Repeat("x", maxJSONBytes)+`"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestADeeplyNestedJSONBodyIsAStepErrorNotAMemoryBlowUp(t *testing.T) {
	srv := hostile(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	outs := runAll(t, srv.URL, `
steps "s" {
  target = target.t
  step "deep" {
    http { path = "/deep" }
    capture { first = response.json[0] }
  }
  step "within" {
    http { path = "/within" }
    assert {
      condition     = response.json.a == "[[[["
      error_message = "a is the string"
    }
  }
  step "large" {
    http { path = "/large" }
    capture { pad = response.json.pad }
  }
}
`)
	runtime.ReadMemStats(&after)
	if outs[0].Status != result.Errored || !strings.Contains(outs[0].Message, "more than 256 levels deep") || !strings.Contains(outs[0].Message, "/deep") {
		t.Errorf("deep: %s %q; want an error saying the body is too deep", outs[0].Status, outs[0].Message)
	}
	if outs[1].Status != result.Passed {
		t.Errorf("within: %s %q; a body nested %d deep must decode", outs[1].Status, outs[1].Message, maxJSONDepth)
	}
	if outs[2].Status != result.Errored || !strings.Contains(outs[2].Message, "response.json decodes at most 4 MiB") {
		t.Errorf("large: %s %q; want an error saying the body is too large", outs[2].Status, outs[2].Message)
	}
	t.Logf("the three steps allocated %d MiB", (after.TotalAlloc-before.TotalAlloc)>>20)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Errorf("the three steps allocated %d MiB", alloc>>20)
	}
}
