package performance

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"testing"
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
	os.Exit(m.Run())
}
