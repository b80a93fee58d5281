package performance

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
	peer
	cmd *exec.Cmd
	in  io.WriteCloser
	log string // its standard error, kept in the workers' directory
	err error  // its Wait error, once exited
}

// startLocal starts one process per generator and hands each its part.
func startLocal(h Handoff, dir string) ([]member, error) {
	exe, args, err := WorkerCommand()
	if err != nil {
		return nil, fmt.Errorf("finding the cloudtest executable for the workers: %w", err)
	}
	var ws []member
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
	w := &localWorker{peer: newPeer(i), log: filepath.Join(dir, fmt.Sprintf("%d.log", i))}
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
		w.peer.read(out, dir)
		w.err = w.cmd.Wait()
		logf.Close()
		close(w.gone)
	}()
	if _, err := w.in.Write(append(line, '\n')); err != nil {
		w.cmd.Process.Kill()
		return nil, err
	}
	return w, nil
}

// name is how the report and the message call the worker.
func (w *localWorker) name(of int) string {
	return fmt.Sprintf("generator %d of %d (%s)", w.idx+1, of, w.location())
}

func (w *localWorker) location() string { return fmt.Sprintf("local process %d", w.cmd.Process.Pid) }

func (w *localWorker) send(m message) error {
	line, _ := json.Marshal(m)
	_, err := w.in.Write(append(line, '\n'))
	return err
}

func (w *localWorker) interrupt() { w.cmd.Process.Signal(os.Interrupt) }

func (w *localWorker) kill() { w.cmd.Process.Kill() }

// failure says why a worker that ended did not finish its part, or "".
func (w *localWorker) failure() string {
	done, overdue := w.isDone(), w.isOverdue()
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
func (w *localWorker) lastLog() string { return lastLine(w.log) }
