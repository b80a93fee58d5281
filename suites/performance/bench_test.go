package performance

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/step"
)

// BenchmarkJourneyStep is the cost of one request on cloudtest's own
// workers: evaluating the step, sending it, checking and recording it.
// Compare with BenchmarkRawHTTP, the same request with net/http alone.
func BenchmarkJourneyStep(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "b.hcl"), []byte(`target "t" { url = "`+srv.URL+`" }
performance "b" {
  target = target.t
  load {
    rate     = 1
    duration = "1s"
  }
  journey "j" {
    step "get" {
      http { path = "/" }
      expect { status = 200 }
      capture { c = response.status }
    }
  }
}`), 0o644)
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	s := cfg.Suites[0].(*Suite)
	env, err := step.NewEnv(cfg, map[string]string{"t": srv.URL}, "t")
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	env.Lean = true
	rec := newRecorder(time.Now())
	st := s.Journeys[0].Steps[0]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		out := st.Run(context.Background(), env, map[string]cty.Value{})
		rec.request("j", "get", start, time.Since(start), out.Status == "passed", out.Code, "", out.BytesIn, out.BytesOut)
	}
}

// BenchmarkRawHTTP is the floor: the same GET with net/http only.
func BenchmarkRawHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	c := srv.Client()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.Get(srv.URL + "/")
		if err != nil {
			b.Fatal(err)
		}
		var buf [16]byte
		resp.Body.Read(buf[:])
		resp.Body.Close()
	}
}

// BenchmarkRecord is the cost of recording one result in the histograms.
func BenchmarkRecord(b *testing.B) {
	rec := newRecorder(time.Now())
	start := time.Now()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		rec.request("j", "get", start, time.Duration(i%5000)*time.Microsecond, true, 200, "", 2, 0)
	}
}

// benchGenerator is a generator of the journey steps given, against an
// in-process server answering "ok", as the open model runs it: markers,
// trace context, checks, recording and the raw results file.
func benchGenerator(b *testing.B, steps string) (*generator, *Suite) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	b.Cleanup(srv.Close)
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "b.hcl"), []byte(`target "t" { url = "`+srv.URL+`" }
performance "b" {
  target = target.t
  load {
    rate     = 1
    duration = "1s"
  }
  journey "j" {
`+steps+`
  }
}`), 0o644)
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	s := cfg.Suites[0].(*Suite)
	env, err := step.NewEnv(cfg, map[string]string{"t": srv.URL}, "t")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { env.Close() })
	env.Lean = true
	env.ExtraHeaders = map[string]string{s.Marker: "bench"}
	raw, err := newRawWriter(filepath.Join(dir, "load", "b.bin"), env.Redact)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	g := newGenerator(s, env, raw)
	g.rec, g.stop = newRecorder(time.Now()), func() {}
	return g, s
}

// checkRequests fails b unless the generator recorded n requests, none failed.
func checkRequests(b *testing.B, g *generator, n int) {
	if got, errs, _ := g.rec.snapshot(); got != int64(n) || errs != 0 {
		b.Fatalf("%d requests with %d errors, want %d without errors", got, errs, n)
	}
}

// BenchmarkJourney3Steps is one journey of bench.sh's "3-step journey"
// (three GETs, each capturing the status). Its ns/op and allocs/op are per
// journey, so per request they are a third.
func BenchmarkJourney3Steps(b *testing.B) {
	g, _ := benchGenerator(b, `    step "s1" {
      http { path = "/" }
      capture { c1 = response.status }
    }
    step "s2" {
      http { path = "/" }
      capture { c2 = response.status }
    }
    step "s3" {
      http { path = "/" }
      capture { c3 = response.status }
    }`)
	sc := new(journeyScratch) // a worker's
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.journey(context.Background(), time.Now(), sc)
	}
	b.StopTimer()
	checkRequests(b, g, 3*b.N)
}

// BenchmarkStatic3Requests is three requests of bench.sh's "1 request"
// (one static GET) as the fast path sends them: compare its ns/op and
// allocs/op with BenchmarkJourney3Steps', the same three GETs as a journey.
func BenchmarkStatic3Requests(b *testing.B) {
	g, s := benchGenerator(b, `    step "s1" {
      http { path = "/" }
    }`)
	fast := s.fastPath(g.env)
	if fast == nil {
		b.Fatal("the single GET is not on the fast path")
	}
	send := g.staticUser(context.Background(), fast)()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for range 3 {
			send(time.Now())
		}
	}
	b.StopTimer()
	checkRequests(b, g, 3*b.N)
}
