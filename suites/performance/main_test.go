package performance

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
)

// With CLOUDTEST_TEST_SERVE_PORT set, the test binary is a small HTTP
// server that spends some CPU per request: a process target whose CPU and
// memory the load suite samples.
func TestMain(m *testing.M) {
	if port := os.Getenv("CLOUDTEST_TEST_SERVE_PORT"); port != "" {
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			sum := sha256.Sum256([]byte(r.URL.Path))
			for i := 0; i < 20000; i++ {
				sum = sha256.Sum256(sum[:])
			}
			fmt.Fprintf(w, "%x", sum[:4])
		})
		http.ListenAndServe("127.0.0.1:"+port, nil)
		os.Exit(0)
	}
	// As a generator worker of runner = "local" (the coordinator starts
	// os.Executable(), this test binary, with "worker").
	// A worker that cannot start (TestAGeneratorThatCannotStartIsNamed).
	if len(os.Args) > 1 && os.Args[1] == "broken-worker" {
		fmt.Fprintln(os.Stderr, "worker: the suites cannot be read")
		os.Exit(3)
	}
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := ServeWorker(ctx, os.Stdin, os.Stdout, func(h Handoff) (*config.Config, error) {
			cfg, _, diags := config.Load(h.Source, config.Options{Vars: h.Vars, VarFiles: h.VarFiles, Kinds: []config.SuiteKind{Kind}})
			if diags.HasErrors() {
				return nil, diags
			}
			return cfg, nil
		})
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
