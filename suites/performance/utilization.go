package performance

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/target"
)

// clockTicks is USER_HZ, the unit of CPU times in /proc/<pid>/stat on Linux.
const clockTicks = 100

// sampler reads the CPU time and resident memory of a target cloudtest
// started, once a second: of its process from /proc, of its container from
// the Docker stats API.
type sampler struct {
	source string
	// read returns cumulative CPU seconds, resident bytes and what was
	// read (a pid, a container start): CPU is compared within one only.
	read func() (cpu float64, rss int64, instance string, err error)
	// stamped, when set instead of read, also returns when the figures
	// were taken (a kubelet's samples carry their own time): CPU is
	// compared over that time, and a read with no new sample is skipped.
	stamped func() (cpu float64, rss int64, instance string, at time.Time, err error)
	close   func()
	mu      sync.Mutex
	cpu     []float64 // percent of one core, per interval
	rss     []float64 // MB
	lastCPU float64
	lastAt  time.Time
	lastOf  string
	lastErr error // of the last read that failed
	halt    func()
}

// startSampler samples inst's process or container; for other targets it
// returns nil and the reason nothing can be measured.
func startSampler(inst *target.Instance) (*sampler, string) {
	var s *sampler
	switch {
	case inst == nil:
		return nil, "the target is not running"
	case inst.Container != nil:
		var why string
		s, why = containerSampler(inst)
		if s == nil {
			return nil, why
		}
	case inst.Kube != nil:
		var why string
		s, why = kubeSampler(inst)
		if s == nil {
			return nil, why
		}
	case inst.Process == nil && inst.Config.Embedded != "":
		return nil, "the embedded demo bank runs inside cloudtest, so its CPU cannot be told apart from the load generator's; run it as a process or container target to measure it"
	case inst.Process == nil:
		return nil, "the target is a URL that cloudtest did not start; its CPU and memory are not visible from here"
	default:
		s = processSampler(inst.Process)
	}
	s.sample()
	s.halt = everySecond(s.sample)
	return s, ""
}

func processSampler(sup *target.Supervisor) *sampler {
	return &sampler{
		source: fmt.Sprintf("/proc of the supervised process of target %q", sup.Name),
		read: func() (float64, int64, string, error) {
			pid := sup.Pid()
			if pid == 0 {
				return 0, 0, "", errors.New("not running")
			}
			cpu, rss, err := readProc(pid)
			return cpu, rss, strconv.Itoa(pid), err
		},
	}
}

// everySecond calls f once a second until the returned function is
// called; that function waits for the last call to end.
func everySecond(f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (s *sampler) sample() {
	var cpu float64
	var rss int64
	var of string
	var err error
	now := time.Now()
	if s.stamped != nil {
		cpu, rss, of, now, err = s.stamped()
	} else {
		cpu, rss, of, err = s.read()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.lastErr = err
		return
	}
	if s.stamped != nil && !now.After(s.lastAt) {
		return // the same sample as the last read
	}
	if of == s.lastOf && !s.lastAt.IsZero() && cpu >= s.lastCPU {
		if dt := now.Sub(s.lastAt).Seconds(); dt > 0.2 {
			s.cpu = append(s.cpu, (cpu-s.lastCPU)/dt*100)
		}
	}
	s.rss = append(s.rss, float64(rss)/(1<<20))
	s.lastCPU, s.lastAt, s.lastOf = cpu, now, of
}

func (s *sampler) finish() *result.Utilization {
	s.halt()
	s.sample()
	if s.close != nil {
		s.close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := &result.Utilization{Source: s.source, Samples: len(s.cpu)}
	u.CPUMean, u.CPUMax = meanMax(s.cpu)
	u.RSSMeanMB, u.RSSMaxMB = meanMax(s.rss)
	switch {
	case len(s.cpu) == 0 && s.lastErr != nil:
		u.Unmeasured = "the figures could not be read from " + s.source + ": " + s.lastErr.Error()
	case len(s.cpu) == 0:
		u.Unmeasured = "the load was shorter than two samples"
	}
	return u
}

func meanMax(v []float64) (mean, mx float64) {
	for _, x := range v {
		mean += x
		mx = max(mx, x)
	}
	if len(v) > 0 {
		mean /= float64(len(v))
	}
	return mean, mx
}

// readProc returns the CPU seconds (user+system) and the resident set size
// in bytes of pid.
func readProc(pid int) (cpu float64, rss int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name may hold spaces; the fields after it start at ')'.
	i := strings.LastIndexByte(string(stat), ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	pages, _ := strconv.ParseInt(f[21], 10, 64)
	return (utime + stime) / clockTicks, pages * int64(os.Getpagesize()), nil
}
