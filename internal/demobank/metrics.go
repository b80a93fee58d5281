package demobank

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stats counts requests for /metrics (Prometheus text format).
type stats struct {
	inFlight atomic.Int64
	mu       sync.Mutex
	counts   map[string]int64 // "path\x00status" -> count
	seconds  map[string]float64
}

func newStats() *stats {
	return &stats{counts: map[string]int64{}, seconds: map[string]float64{}}
}

func (s *stats) begin() { s.inFlight.Add(1) }

func (s *stats) end(path string, status int, d time.Duration) {
	s.inFlight.Add(-1)
	route := routeOf(path)
	k := route + "\x00" + strconv.Itoa(status)
	s.mu.Lock()
	s.counts[k]++
	s.seconds[route] += d.Seconds()
	s.mu.Unlock()
}

// routeOf folds ids out of paths so that the metric has few series.
func routeOf(path string) string {
	parts := strings.Split(path, "/")
	if len(parts) > 4 {
		parts = parts[:4]
	}
	if len(parts) == 4 && (parts[2] == "accounts" || parts[2] == "transfers" || parts[2] == "ledger") {
		parts[3] = "{id}"
	}
	return strings.Join(parts, "/")
}

func (b *Bank) metrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	s := b.stats
	s.mu.Lock()
	keys := make([]string, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "# HELP demobank_requests_total Requests served, by route and status.")
	fmt.Fprintln(w, "# TYPE demobank_requests_total counter")
	for _, k := range keys {
		route, status, _ := strings.Cut(k, "\x00")
		fmt.Fprintf(w, "demobank_requests_total{route=%q,status=%q} %d\n", route, status, s.counts[k])
	}
	routes := make([]string, 0, len(s.seconds))
	for r := range s.seconds {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	fmt.Fprintln(w, "# HELP demobank_request_seconds_total Time spent serving requests, by route.")
	fmt.Fprintln(w, "# TYPE demobank_request_seconds_total counter")
	for _, route := range routes {
		fmt.Fprintf(w, "demobank_request_seconds_total{route=%q} %g\n", route, s.seconds[route])
	}
	s.mu.Unlock()
	fmt.Fprintln(w, "# HELP demobank_in_flight_requests Requests being served.")
	fmt.Fprintln(w, "# TYPE demobank_in_flight_requests gauge")
	fmt.Fprintf(w, "demobank_in_flight_requests %d\n", s.inFlight.Load())
	if cpu, rss, ok := procSelf(); ok {
		fmt.Fprintln(w, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.")
		fmt.Fprintln(w, "# TYPE process_cpu_seconds_total counter")
		fmt.Fprintf(w, "process_cpu_seconds_total %g\n", cpu)
		fmt.Fprintln(w, "# HELP process_resident_memory_bytes Resident memory size in bytes.")
		fmt.Fprintln(w, "# TYPE process_resident_memory_bytes gauge")
		fmt.Fprintf(w, "process_resident_memory_bytes %d\n", rss)
	}
}

// procSelf reads CPU seconds and resident memory from /proc (Linux only).
func procSelf() (cpu float64, rss int64, ok bool) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, 0, false
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	i := strings.LastIndexByte(string(stat), ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, 0, false
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	const ticks = 100 // USER_HZ on Linux
	cpu = (utime + stime) / ticks
	st, err := os.Open("/proc/self/status")
	if err != nil {
		return cpu, 0, true
	}
	defer st.Close()
	sc := bufio.NewScanner(st)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "VmRSS:"); found {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			rss = kb * 1024
		}
	}
	return cpu, rss, true
}
