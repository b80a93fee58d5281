package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles writes a CPU profile to $CLOUDTEST_CPUPROFILE and a heap
// profile to $CLOUDTEST_MEMPROFILE when they are set (for bench/ and for
// finding where a slow run spends its time: `go tool pprof FILE`). The
// returned function stops them; it is called before the process exits.
func startProfiles() func() {
	cpu, mem := os.Getenv("CLOUDTEST_CPUPROFILE"), os.Getenv("CLOUDTEST_MEMPROFILE")
	var f *os.File
	if cpu != "" {
		var err error
		if f, err = os.Create(cpu); err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "cloudtest: CLOUDTEST_CPUPROFILE: %v\n", err)
			f = nil
		}
	}
	return func() {
		if f != nil {
			pprof.StopCPUProfile()
			f.Close()
		}
		if mem == "" {
			return
		}
		runtime.GC()
		m, err := os.Create(mem)
		if err == nil {
			err = pprof.WriteHeapProfile(m)
			m.Close()
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "cloudtest: CLOUDTEST_MEMPROFILE: %v\n", err)
		}
	}
}
