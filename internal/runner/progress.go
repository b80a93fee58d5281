package runner

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

// Progress is told what happens during a run. It is fed by the runner and
// the suites; it never decides anything.
type Progress interface {
	SuiteStarted(c *config.SuiteCommon)
	SuiteFinished(c *config.SuiteCommon, status result.Status, d time.Duration, message string)
	Result(r result.Result)
	Logf(suite, text string)
	// Status replaces the live status of a running suite (a load's
	// elapsed time, rate, p99 and errors); it is called about once a second.
	Status(suite, text string)
}

type nopProgress struct{}

func (nopProgress) SuiteStarted(*config.SuiteCommon)                                        {}
func (nopProgress) SuiteFinished(*config.SuiteCommon, result.Status, time.Duration, string) {}
func (nopProgress) Result(result.Result)                                                    {}
func (nopProgress) Logf(string, string)                                                     {}
func (nopProgress) Status(string, string)                                                   {}

// LineProgress writes one plain line per event: for logs, CI and pipes.
type LineProgress struct {
	W     io.Writer
	mu    sync.Mutex
	start time.Time
	calls map[string]int
	// shown are the suites whose failed steps were printed in full: their
	// end line gives the first line of the suite's message only.
	shown map[string]bool
}

// NewLineProgress returns a Progress writing plain lines to w.
func NewLineProgress(w io.Writer) *LineProgress { return &LineProgress{W: w, start: time.Now()} }

func (p *LineProgress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// Messages carry text from the target: no control character of theirs
	// reaches the terminal.
	fmt.Fprint(p.W, result.Printable(fmt.Sprintf("%7.1fs  "+format+"\n", append([]any{time.Since(p.start).Seconds()}, args...)...)))
}

func (p *LineProgress) SuiteStarted(c *config.SuiteCommon) {
	p.printf("start  %s %q", c.Kind, c.Name)
}

func (p *LineProgress) SuiteFinished(c *config.SuiteCommon, st result.Status, d time.Duration, msg string) {
	line := fmt.Sprintf("%-6s %s %q in %s", st, c.Kind, c.Name, d.Round(time.Millisecond))
	p.mu.Lock()
	shown := p.shown[c.Name]
	p.mu.Unlock()
	if msg != "" && st != result.Passed {
		line += ": " + endMessage(msg, shown)
	}
	p.printf("%s", line)
}

// endMessage is a suite's message on its end line: in full, or, when its
// failed steps were printed in full above (shown), its first line only,
// so that a failure is not printed twice.
func endMessage(msg string, shown bool) string {
	if !shown {
		return whole(msg)
	}
	first, rest, _ := strings.Cut(strings.TrimSpace(msg), "\n")
	if strings.TrimSpace(rest) != "" {
		first += " (in full above)"
	}
	return first
}

func (p *LineProgress) Result(r result.Result) {
	if r.Level == result.LevelStep && (r.Status == result.Failed || r.Status == result.Errored) {
		name := r.Step
		if r.Case != "" && r.Case != r.Suite {
			name = r.Case + " › " + r.Step
		}
		p.mu.Lock()
		if p.shown == nil {
			p.shown = map[string]bool{}
		}
		p.shown[r.Suite] = true
		p.mu.Unlock()
		p.printf("       %s %q step %q %s: %s", r.Kind, r.Suite, name, r.Status, whole(firstFailure(r)))
	}
}

func (p *LineProgress) Logf(suite, text string) {
	if suite != "" {
		p.printf("       %s: %s", suite, text)
		return
	}
	p.printf("%s", text)
}

// Status prints a running suite's status every fifth call, so that a log
// shows a long load's progress without a line a second.
func (p *LineProgress) Status(suite, text string) {
	p.mu.Lock()
	if p.calls == nil {
		p.calls = map[string]int{}
	}
	p.calls[suite]++
	n := p.calls[suite]
	p.mu.Unlock()
	if n%5 == 1 {
		p.printf("       %s: %s", suite, text)
	}
}

// whole is a message in full, its lines after the first indented under
// the line it ends.
func whole(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := 1; i < len(lines); i++ {
		if lines[i] != "" {
			lines[i] = "           " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

// firstFailure is the first failure of a step in full (with the names of
// the other failed checks), or its message.
func firstFailure(r result.Result) string {
	if r.First != "" {
		return r.First
	}
	return r.Message
}

// TermProgress keeps one live status line on a terminal (suites running,
// passed, failed, elapsed) and prints finished suites above it.
type TermProgress struct {
	w       io.Writer
	mu      sync.Mutex
	start   time.Time
	running map[string]bool
	status  map[string]string
	counts  map[result.Status]int
	total   int
	// shown are the suites whose failed steps were printed in full (see
	// LineProgress.shown).
	shown  map[string]bool
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// NewTermProgress starts redrawing the status line every 200ms until Close.
func NewTermProgress(w io.Writer, total int) *TermProgress {
	p := &TermProgress{w: w, start: time.Now(), running: map[string]bool{}, status: map[string]string{}, counts: map[result.Status]int{},
		total: total, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.mu.Lock()
				p.redraw()
				p.mu.Unlock()
			}
		}
	}()
	return p
}

func (p *TermProgress) redraw() {
	names := make([]string, 0, len(p.running))
	for n := range p.running {
		names = append(names, n)
	}
	slices.Sort(names)
	line := fmt.Sprintf("%s  %d/%d done · %d running · %d passed · %d failed · %d error",
		time.Since(p.start).Round(100*time.Millisecond), p.counts[result.Passed]+p.counts[result.Failed]+p.counts[result.Errored]+p.counts[result.Skipped],
		p.total, len(p.running), p.counts[result.Passed], p.counts[result.Failed], p.counts[result.Errored])
	for i, n := range names {
		if st := p.status[n]; st != "" {
			names[i] = n + " (" + st + ")"
		}
	}
	if len(names) > 0 {
		line += " · " + strings.Join(names, ", ")
	}
	if r := []rune(line); len(r) > 160 {
		line = string(r[:157]) + "..."
	}
	fmt.Fprintf(p.w, "\r\033[K%s", result.Printable(line))
}

func (p *TermProgress) above(text string) {
	fmt.Fprintf(p.w, "\r\033[K%s\n", result.Printable(text))
	p.redraw()
}

func (p *TermProgress) SuiteStarted(c *config.SuiteCommon) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running[c.Name] = true
	p.redraw()
}

func (p *TermProgress) SuiteFinished(c *config.SuiteCommon, st result.Status, d time.Duration, msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.running, c.Name)
	delete(p.status, c.Name)
	p.counts[st]++
	mark := map[result.Status]string{result.Passed: "✔", result.Failed: "✘", result.Errored: "!", result.Skipped: "-"}[st]
	line := fmt.Sprintf("%s %s %s %q (%s)", mark, st, c.Kind, c.Name, d.Round(time.Millisecond))
	if msg != "" && st != result.Passed {
		line += ": " + endMessage(msg, p.shown[c.Name])
	}
	p.above(line)
}

func (p *TermProgress) Result(r result.Result) {
	if r.Level == result.LevelStep && (r.Status == result.Failed || r.Status == result.Errored) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.shown == nil {
			p.shown = map[string]bool{}
		}
		p.shown[r.Suite] = true
		p.above(fmt.Sprintf("    step %q of %q %s: %s", r.Step, r.Suite, r.Status, whole(firstFailure(r))))
	}
}

func (p *TermProgress) Logf(suite, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if suite != "" {
		text = suite + ": " + text
	}
	p.above("  " + text)
}

// Status shows text beside the running suite in the status line.
func (p *TermProgress) Status(suite, text string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status[suite] = text
}

// Close stops redrawing and clears the status line; it may be called again.
func (p *TermProgress) Close() {
	p.closed.Do(func() {
		close(p.stop)
		<-p.done
		fmt.Fprint(p.w, "\r\033[K")
	})
}
