package target

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProcessJournal is the file, in a run directory's targets/, where every
// process that cloudtest starts for a target is written down (its pid,
// which is also its process group, and its start time) when it starts and
// when it exits. `cloudtest recover` reads it to stop what a killed run
// left running; the start time keeps it from signalling a process that
// merely got the same pid later.
const ProcessJournal = "processes.jsonl"

type processRecord struct {
	Time   time.Time `json:"time"`
	Target string    `json:"target"`
	Event  string    `json:"event"` // start, exit
	Pid    int       `json:"pid"`
	// Start is the process's start time in clock ticks since boot
	// (field 22 of /proc/PID/stat): with the pid, it names one process.
	// No command line: it may carry a sensitive value.
	Start uint64 `json:"start"`
	// By says who ended the process when it was not the run itself.
	By string `json:"by,omitempty"`
}

var journalMu sync.Mutex

// journalProcess appends a record to the journal at path, synced: it is
// what recover trusts after a crash.
func journalProcess(path string, r processRecord) error {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	journalMu.Lock()
	defer journalMu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	return errors.Join(werr, f.Sync(), f.Close())
}

// startTime reads a process's start time (clock ticks since boot) from
// /proc; ok is false when there is no such process.
func startTime(pid int) (uint64, bool) {
	start, _, ok := procStat(pid)
	return start, ok
}

// procStat reads a process's start time and state (R, S, T, Z…) from
// /proc/PID/stat.
func procStat(pid int) (uint64, string, bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, "", false
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields that follow are counted from its closing one.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, "", false
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return 0, "", false
	}
	v, err := strconv.ParseUint(fields[19], 10, 64) // field 22
	return v, fields[0], err == nil
}

// live holds the supervisors of this process that still supervise, for
// KillAll.
var live = struct {
	sync.Mutex
	m map[*Supervisor]struct{}
}{m: map[*Supervisor]struct{}{}}

// KillAll ends every supervised target process of this cloudtest at once
// (SIGKILL to each process group, no waiting): what a second Ctrl-C does
// before cloudtest exits, so that no target is left running orphaned. It
// returns how many process groups it signalled.
func KillAll() int {
	live.Lock()
	defer live.Unlock()
	n := 0
	for s := range live.m {
		s.mu.Lock()
		s.stopping = true
		var pid int
		if s.cmd != nil && s.cmd.Process != nil {
			pid = s.cmd.Process.Pid
		}
		s.mu.Unlock()
		if pid > 1 && syscall.Kill(-pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// StopLeftoverProcesses stops the target processes that the run in runDir
// started and that are still running, as after a kill -9 of cloudtest or
// a second Ctrl-C that came too early: each process group whose leader is
// still the process the journal names (same pid, same start time) gets
// SIGKILL. A pid now used by another process is left alone. It says each
// on w and returns how many it stopped.
func StopLeftoverProcesses(runDir string, w io.Writer) (int, error) {
	path := filepath.Join(runDir, "targets", ProcessJournal)
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	running, order, err := stillRunning(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	var n int
	var errs []error
	for _, k := range order {
		r, ok := running[k]
		if !ok {
			continue
		}
		now, state, alive := procStat(k.pid)
		if !alive || now != k.start || state == "Z" {
			// Gone (a zombie is dead, only not yet reaped by its new
			// parent), or its pid reused by another process: nothing of
			// ours to stop. (A process group outlives its leader only
			// while a member lives, and its id is not handed out again
			// until then; but the leader is what the journal names.)
			continue
		}
		if err := syscall.Kill(-k.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("process %d of target %q: %w", k.pid, r.Target, err))
			continue
		}
		n++
		journalProcess(path, processRecord{Target: r.Target, Event: "exit", Pid: k.pid, Start: k.start, By: "cloudtest recover"})
		fmt.Fprintf(w, "stopped process %d of target %q, started at %s\n", k.pid, r.Target, r.Time.Format(time.RFC3339))
	}
	return n, errors.Join(errs...)
}

// A processKey names one process: its pid and its start time, since pids
// are reused.
type processKey struct {
	pid   int
	start uint64
}

// stillRunning reads a process journal: the processes started and not
// seen to exit, in the order they started.
func stillRunning(f io.Reader) (map[processKey]processRecord, []processKey, error) {
	running := map[processKey]processRecord{}
	var order []processKey
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		var r processRecord
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Pid <= 1 {
			continue // a torn last line
		}
		k := processKey{r.Pid, r.Start}
		switch r.Event {
		case "start":
			if _, seen := running[k]; !seen {
				order = append(order, k)
			}
			running[k] = r
		case "exit":
			delete(running, k)
		}
	}
	return running, order, sc.Err()
}
