package reliability

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cloudtest/cloudtest/internal/demobank"
)

// TestMain lets the test binary serve as a target process: the demo bank
// (CLOUDTEST_TEST_DEMO holds its flags, one per line) or a ledger that
// acknowledges every write and forgets, on purpose, those whose sequence
// number is a multiple of CLOUDTEST_TEST_FORGET.
func TestMain(m *testing.M) {
	if args := os.Getenv("CLOUDTEST_TEST_DEMO"); args != "" {
		os.Exit(demobank.Main(strings.Split(args, "\n"), io.Discard, os.Stderr))
	}
	if every := os.Getenv("CLOUDTEST_TEST_FORGET"); every != "" {
		n, _ := strconv.Atoi(every)
		serveForgetfulLedger(os.Getenv("CLOUDTEST_TEST_PORT"), n)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func serveForgetfulLedger(port string, every int) {
	var mu sync.Mutex
	kept := map[string]bool{}
	http.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	http.HandleFunc("POST /ledger", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Seq int }
		json.NewDecoder(r.Body).Decode(&body)
		id := fmt.Sprintf("w-%d", body.Seq)
		if body.Seq%every != 0 {
			mu.Lock()
			kept[id] = true
			mu.Unlock()
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":%q}`, id)
	})
	http.HandleFunc("GET /ledger/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ok := kept[r.PathValue("id")]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
		}
	})
	http.ListenAndServe("127.0.0.1:"+port, nil)
}
