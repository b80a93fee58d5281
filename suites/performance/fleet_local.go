package performance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// WorkerCommand is the program and arguments that start a generator
// worker of runner = "local": this very executable as `cloudtest worker`.
// A test binary that serves as cloudtest sets its own.
var WorkerCommand = func() (string, []string, error) {
	exe, err := os.Executable()
	return exe, []string{"worker"}, err
}

// localWorker is one generator process on this machine.
type localWorker struct {
	index int
	cmd   *exec.Cmd
	in    io.WriteCloser
	log   string // its standard error, kept in the workers' directory
	msgs  chan message
	// exited is closed when the process has ended; err is its Wait error.
	exited chan struct{}
	err    error
	done   bool // it said it was done
	// overdue: it was still running long after the load's end and was killed.
	overdue bool
	mu      sync.Mutex
	// requests and errors so far, from its progress lines.
	requests, errors atomic.Int64
}

// startLocal starts one process per generator and hands each its part.
func startLocal(h Handoff, dir string) ([]*localWorker, error) {
	exe, args, err := WorkerCommand()
	if err != nil {
		return nil, fmt.Errorf("finding the cloudtest executable for the workers: %w", err)
	}
	var ws []*localWorker
	for i := 0; i < h.Of; i++ {
		w, err := startOne(exe, args, h, i, dir)
		if err != nil {
			kill(ws)
			return nil, fmt.Errorf("starting generator %d of %d: %w", i+1, h.Of, err)
		}
		ws = append(ws, w)
	}
	return ws, nil
}

func startOne(exe string, args []string, h Handoff, i int, dir string) (*localWorker, error) {
	h.Index = i
	line, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	w := &localWorker{index: i, log: filepath.Join(dir, fmt.Sprintf("%d.log", i)), msgs: make(chan message, 4), exited: make(chan struct{})}
	logf, err := os.Create(w.log)
	if err != nil {
		return nil, err
	}
	w.cmd = exec.Command(exe, args...)
	w.cmd.Stderr = logf
	// Its own process group: a Ctrl-C at the terminal reaches the
	// coordinator, which interrupts its workers itself, in order.
	w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if w.in, err = w.cmd.StdinPipe(); err != nil {
		logf.Close()
		return nil, err
	}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := w.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m message
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				if m.Progress {
					w.requests.Store(m.Requests)
					w.errors.Store(m.Errors)
					continue
				}
				if m.Done {
					w.mu.Lock()
					w.done = true
					w.mu.Unlock()
				}
				select {
				case w.msgs <- m:
				default: // more lines than the protocol has: not read
				}
			}
		}
		close(w.msgs)
		w.err = w.cmd.Wait()
		logf.Close()
		close(w.exited)
	}()
	if _, err := w.in.Write(append(line, '\n')); err != nil {
		w.cmd.Process.Kill()
		return nil, err
	}
	return w, nil
}

// name is how the report and the message call the worker.
func (w *localWorker) name(of int) string {
	return fmt.Sprintf("generator %d of %d (local process %d)", w.index+1, of, w.cmd.Process.Pid)
}

// awaitReady waits until every worker said it is ready (or the run is
// interrupted).
func awaitReady(ctx context.Context, ws []*localWorker, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for _, w := range ws {
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while the %d generators were starting", len(ws))
		case m, ok := <-w.msgs:
			switch {
			case ok && m.Ready:
				continue
			case ok && m.Error != "":
				return fmt.Errorf("%s could not start: %s", w.name(len(ws)), m.Error)
			}
			<-w.exited
			return fmt.Errorf("%s ended before it was ready (%v)%s", w.name(len(ws)), w.err, w.lastLog())
		case <-deadline.C:
			return fmt.Errorf("%s was not ready within %s", w.name(len(ws)), timeout)
		}
	}
	return nil
}

// begin hands every worker the same start time.
func begin(ws []*localWorker, start time.Time) error {
	line, _ := json.Marshal(message{Start: start})
	for _, w := range ws {
		if _, err := w.in.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("%s: handing over the start time: %w", w.name(len(ws)), err)
		}
	}
	return nil
}

// failure says why a worker that ended did not finish its part, or "".
func (w *localWorker) failure() string {
	w.mu.Lock()
	done, overdue := w.done, w.overdue
	w.mu.Unlock()
	var ee *exec.ExitError
	switch {
	case w.err == nil && done:
		return ""
	case overdue:
		return fmt.Sprintf("was still running %s after the load's end and was killed", overrun) + w.lastLog()
	case errors.As(w.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return fmt.Sprintf("was killed (signal %d, %s)", int(ws.Signal()), ws.Signal()) + w.lastLog()
		}
		return fmt.Sprintf("failed (exit status %d)", ee.ExitCode()) + w.lastLog()
	case w.err != nil:
		return "failed: " + w.err.Error() + w.lastLog()
	}
	return "ended without finishing its part" + w.lastLog()
}

// cpu is the CPU time the process used (user and system), known once it ended.
func (w *localWorker) cpu() time.Duration {
	if w.cmd.ProcessState == nil {
		return 0
	}
	return w.cmd.ProcessState.UserTime() + w.cmd.ProcessState.SystemTime()
}

// lastLog is the last line the worker wrote to its standard error.
func (w *localWorker) lastLog() string {
	b, err := os.ReadFile(w.log)
	if err != nil {
		return ""
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return ": " + strings.TrimSpace(string(b))
}

// interrupt asks every worker still running to stop its load early.
func interrupt(ws []*localWorker) {
	for _, w := range ws {
		select {
		case <-w.exited:
		default:
			w.cmd.Process.Signal(os.Interrupt)
		}
	}
}

// kill ends every worker still running and waits for them.
func kill(ws []*localWorker) {
	for _, w := range ws {
		select {
		case <-w.exited:
		default:
			w.cmd.Process.Kill()
		}
	}
	for _, w := range ws {
		<-w.exited
	}
}
