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
		serveForgetfulLedger(os.Getenv("CLOUDTEST_TEST_PORT"), n, os.Getenv("CLOUDTEST_TEST_DISORDER") != "", os.Getenv("CLOUDTEST_TEST_NUMERIC_IDS") != "")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// With disorder, write 5 is given write 4's id (a duplicate) and writes 7
// and 8 come back in each other's position (out of order). With numeric,
// ids are JSON numbers (4, not "w-4").
func serveForgetfulLedger(port string, every int, disorder, numeric bool) {
	var mu sync.Mutex
	kept := map[string]int{} // id -> position
	http.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {})
	http.HandleFunc("POST /ledger", func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Seq int }
		json.NewDecoder(r.Body).Decode(&body)
		seq, pos := body.Seq, body.Seq
		if disorder && seq == 5 {
			seq = 4
		}
		if disorder && (pos == 7 || pos == 8) {
			pos = 15 - pos
		}
		id := fmt.Sprintf("w-%d", seq)
		if numeric {
			id = strconv.Itoa(seq)
		}
		if body.Seq%every != 0 {
			mu.Lock()
			kept[id] = pos
			mu.Unlock()
		}
		w.WriteHeader(http.StatusCreated)
		if numeric {
			fmt.Fprintf(w, `{"id":%s}`, id)
			return
		}
		fmt.Fprintf(w, `{"id":%q}`, id)
	})
	http.HandleFunc("GET /ledger/{id}", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		pos, ok := kept[r.PathValue("id")]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, `{"position":%d}`, pos)
	})
	http.ListenAndServe("127.0.0.1:"+port, nil)
}
