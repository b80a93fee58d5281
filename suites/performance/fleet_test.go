package performance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
)

// TestAStreamingWorkerHandsItsResultsOnItsOutput: a worker of
// runner = "kubernetes" has no disk the coordinator can read. With
// Stream set it writes its part and raw results on its standard output
// after its done line, framed, and a stop line on its input ends its load
// early (a pod cannot be sent SIGINT over the API server). The
// coordinator's reader writes the files it would have found on disk.
func TestAStreamingWorkerHandsItsResultsOnItsOutput(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
	defer srv.Close()
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "p.hcl"), []byte(`target "t" { url = "http://127.0.0.1:1" }
performance "load" {
  target = target.t
  load {
    rate     = 40
    duration = "1m"
    workers  = 2
  }
`+simpleJourney+"\n}\n"), 0o644)
	podDir, coordDir := t.TempDir(), t.TempDir()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	served0 := make(chan error, 1)
	go func() {
		err := ServeWorker(context.Background(), inR, outW, func(h Handoff) (*config.Config, error) {
			cfg, _, diags := config.Load(h.Source, config.Options{Kinds: []config.SuiteKind{Kind}})
			if diags.HasErrors() {
				return nil, diags
			}
			return cfg, nil
		})
		outW.Close()
		served0 <- err
	}()
	p := newPeer(1)
	read := make(chan error, 1)
	go func() { read <- p.read(outR, coordDir) }()
	send := func(v any) {
		b, _ := json.Marshal(v)
		if _, err := inW.Write(append(b, '\n')); err != nil {
			t.Fatal(err)
		}
	}
	send(Handoff{Source: src, Suite: "load", Target: "t", URLs: map[string]string{"t": srv.URL}, RunID: "r", Index: 1, Of: 2, Dir: podDir, Stream: true})
	if m := <-p.msgs; !m.Ready {
		t.Fatalf("first line %+v, want ready", m)
	}
	start := time.Now().Add(100 * time.Millisecond)
	send(message{Start: start})
	for served.Load() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	send(message{Stop: true})
	if m := <-p.msgs; !m.Done {
		t.Fatalf("line %+v, want done", m)
	}
	if err := <-served0; err != nil {
		t.Fatalf("worker: %v", err)
	}
	if err := <-read; err != nil {
		t.Fatalf("reading the worker's output: %v", err)
	}
	if !p.sent("part") || !p.sent("raw") {
		t.Fatalf("files received: %v", p.files)
	}
	part, err := readPart(partFile(coordDir, 1, "json"))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawResults(t, partFile(coordDir, 1, "bin"))
	if part.Index != 1 || part.Of != 2 || part.Overall.Requests != served.Load() || int64(len(raw)) != served.Load() || part.CPUNS <= 0 {
		t.Fatalf("part %d of %d with %d requests, CPU %d ns, %d raw results; the server saw %d", part.Index, part.Of, part.Overall.Requests, part.CPUNS, len(raw), served.Load())
	}
	// Stopped early: far fewer than the 1200 its half of a minute at 40/s holds.
	if part.Overall.Requests >= 1200 {
		t.Fatalf("%d requests: the stop line did not end the load", part.Overall.Requests)
	}
	for k, r := range raw {
		if r.Seq%2 != 1 {
			t.Fatalf("raw result %d has sequence number %d: generator 2 of 2 numbers them 2k+1", k, r.Seq)
		}
	}
	t.Logf("stopped after %d requests; part %s", part.Overall.Requests, fmt.Sprint(part.ElapsedNS))
}
