package target

import (
	"context"
	"errors"
	"fmt"
	"github.com/cloudtest/cloudtest/internal/freeport"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Supervisor runs a process, restarts it on exit when its policy says
// "always", and stops it (and its children) at the end. Faults act on it
// through Signal.
type Supervisor struct {
	Name string
	URL  string

	spec        *config.Process
	argv        []string
	env         []string
	dir         string
	logPath     string
	journalPath string
	redact      func(string) string
	longest     int

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the current process exits
	stopping bool
	// killed holds back the restart of the process that Kill ended.
	killed   bool
	restarts int
	done     chan struct{} // closed when supervision ends
}

// SelfCommand, as the first word of a process command, stands for the
// running cloudtest executable.
const SelfCommand = "{cloudtest}"

// StartProcess starts spec and waits for its readiness probe. "{port}" in
// the command, environment and URL is replaced by a free loopback port and
// "{workdir}" by a directory of the target's own under opts.WorkDir.
func StartProcess(ctx context.Context, name string, spec *config.Process, opts Options) (*Supervisor, error) {
	s, err := newSupervisor(name, spec, opts)
	if err != nil {
		return nil, err
	}
	if err := s.launch(); err != nil {
		return nil, fmt.Errorf("target %q: %w", name, err)
	}
	live.Lock()
	live.m[s] = struct{}{}
	live.Unlock()
	go s.supervise()
	if spec.Ready != "" {
		s.mu.Lock()
		exited := s.exited
		s.mu.Unlock()
		if err := waitReady(ctx, s.URL+spec.Ready, spec.ReadyTimeout, exited); err != nil {
			s.Stop()
			return nil, fmt.Errorf("target %q: %w%s", name, err, s.logTail())
		}
	}
	return s, nil
}

// newSupervisor prepares the supervisor of a process not yet started: its
// port and work directory, substituted into its URL, command and
// environment, and the directory it runs in.
func newSupervisor(name string, spec *config.Process, opts Options) (*Supervisor, error) {
	port, err := freeport.Loopback()
	if err != nil {
		return nil, fmt.Errorf("target %q: finding a free port: %w", name, err)
	}
	// {workdir} is a directory of the target's own in the run directory,
	// for its data: a process restarted by a fault finds it again. It is
	// made absolute here, against cloudtest's own working directory (where
	// a relative --out was meant), because the process runs in the suite
	// directory.
	workDir, err := filepath.Abs(filepath.Join(opts.WorkDir, name))
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", name, err)
	}
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, fmt.Errorf("target %q: %w", name, err)
	}
	sub := strings.NewReplacer("{port}", strconv.Itoa(port), "{workdir}", workDir).Replace
	s := &Supervisor{
		Name:    name,
		URL:     strings.TrimRight(sub(spec.URL), "/"),
		spec:    spec,
		dir:     spec.Dir,
		logPath: filepath.Join(opts.WorkDir, name+".log"),
		redact:  opts.Redact,
		longest: opts.Longest,
		done:    make(chan struct{}),
		// Every process started is written down, so that recover can
		// stop what a killed run left running.
		journalPath: filepath.Join(opts.WorkDir, ProcessJournal),
	}
	if s.dir == "" {
		s.dir = opts.BaseDir
	} else if !filepath.IsAbs(s.dir) {
		s.dir = filepath.Join(opts.BaseDir, s.dir)
	}
	if err := s.resolveCommand(sub); err != nil {
		return nil, err
	}
	return s, nil
}

// resolveCommand sets the process's argv and environment from its spec,
// with sub's substitutions: cloudtest for SelfCommand, and a relative
// program path taken from the process's directory.
func (s *Supervisor) resolveCommand(sub func(string) string) error {
	for _, a := range s.spec.Command {
		s.argv = append(s.argv, sub(a))
	}
	if s.argv[0] == SelfCommand {
		// The running cloudtest itself, so that an example can supervise
		// `cloudtest demo` without knowing where the binary is.
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("target %q: finding the cloudtest executable: %w", s.Name, err)
		}
		s.argv[0] = exe
	}
	if p := s.argv[0]; strings.Contains(p, "/") && !filepath.IsAbs(p) {
		s.argv[0] = filepath.Join(s.dir, p)
	}
	s.env = os.Environ()
	for _, k := range slices.Sorted(maps.Keys(s.spec.Env)) {
		s.env = append(s.env, k+"="+sub(s.spec.Env[k]))
	}
	return nil
}

func (s *Supervisor) launch() error {
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	cmd.Dir, cmd.Env = s.dir, s.env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	flush := func() {}
	if s.redact != nil {
		// Through a pipe and the redactor: the process echoes what it
		// was given, secrets included.
		rw := newRedactWriter(logFile, s.redact, s.longest).(*redactWriter)
		cmd.Stdout, cmd.Stderr = rw, rw
		cmd.WaitDelay = time.Second
		flush = func() { rw.Flush() }
	}
	// A process group of its own, so that stopping it stops its children too
	// and a Ctrl-C on the terminal reaches cloudtest only.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", strings.Join(s.argv, " "), err)
	}
	pid := cmd.Process.Pid
	start, _ := startTime(pid)
	if err := journalProcess(s.journalPath, processRecord{Target: s.Name, Event: "start", Pid: pid, Start: start}); err != nil {
		// Without the record a killed run's process could not be
		// found again: better not to run it.
		syscall.Kill(-pid, syscall.SIGKILL)
		cmd.Wait()
		logFile.Close()
		return fmt.Errorf("writing the process journal: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		flush()
		logFile.Close()
		journalProcess(s.journalPath, processRecord{Target: s.Name, Event: "exit", Pid: pid, Start: start})
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	return nil
}

func (s *Supervisor) supervise() {
	defer close(s.done)
	defer func() {
		live.Lock()
		delete(live.m, s)
		live.Unlock()
	}()
	for {
		s.mu.Lock()
		exited := s.exited
		s.mu.Unlock()
		<-exited
		s.mu.Lock()
		again := !s.stopping && !s.killed && s.spec.Restart == "always"
		s.mu.Unlock()
		if !again {
			return
		}
		time.Sleep(100 * time.Millisecond)
		s.mu.Lock()
		if s.stopping || s.killed {
			s.mu.Unlock()
			return
		}
		s.restarts++
		s.mu.Unlock()
		if err := s.launch(); err != nil {
			return
		}
	}
}

// Pid is the process id of the current process (0 when none runs).
func (s *Supervisor) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	select {
	case <-s.exited:
		return 0
	default:
	}
	return s.cmd.Process.Pid
}

// Restarts counts how often the process was restarted after it exited.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Signal sends sig to the current process's group.
func (s *Supervisor) Signal(sig syscall.Signal) error {
	pid := s.Pid()
	if pid == 0 {
		return errors.New("the process is not running")
	}
	return syscall.Kill(-pid, sig)
}

// Kill ends the process with SIGKILL and keeps it from being restarted,
// whatever the restart policy (a container-kill fault: the process stays
// down). It returns once the process has exited.
func (s *Supervisor) Kill() error {
	s.mu.Lock()
	if s.cmd == nil || s.cmd.Process == nil {
		s.mu.Unlock()
		return errors.New("the process is not running")
	}
	s.killed = true
	pid, exited := s.cmd.Process.Pid, s.exited
	s.mu.Unlock()
	syscall.Kill(-pid, syscall.SIGKILL)
	<-exited
	return nil
}

// Stop ends supervision: SIGTERM to the process group, SIGKILL after five
// seconds, and waits for the exit.
func (s *Supervisor) Stop() error {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.stopping = true
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		pid := cmd.Process.Pid
		syscall.Kill(-pid, syscall.SIGCONT) // a stopped process cannot act on SIGTERM
		syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
	}
	<-s.done
	return nil
}

func (s *Supervisor) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\nlast output of the process (" + s.logPath + "):\n" + string(b)
}
