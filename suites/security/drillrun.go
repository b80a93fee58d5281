package security

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/step"
)

// hook is one call the defence made to cloudtest's webhook.
type hook struct {
	at   time.Time
	body string
}

// listener is the webhook cloudtest opens for a drill, on a free loopback
// port; it keeps what it receives (bounded).
type listener struct {
	url string
	srv *http.Server
	mu  sync.Mutex
	got []hook
}

const maxHooks = 1000

func listen(path string) (*listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("opening the webhook listener: %w", err)
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	ln := &listener{url: "http://" + l.Addr().String() + path}
	mux := http.NewServeMux()
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		ln.mu.Lock()
		if len(ln.got) < maxHooks {
			ln.got = append(ln.got, hook{at: time.Now(), body: string(b)})
		}
		ln.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	ln.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go ln.srv.Serve(l)
	return ln, nil
}

func (ln *listener) since(i int) []hook {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if i >= len(ln.got) {
		return nil
	}
	return append([]hook(nil), ln.got[i:]...)
}

func (ln *listener) count() int {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return len(ln.got)
}

func (ln *listener) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ln.srv.Shutdown(ctx)
}

// runDrill runs the setup steps, then each attack, watching for its
// detection from the moment it starts.
func (ss *session) runDrill(ctx context.Context, dr *Drill) (result.DrillRun, result.Status, string) {
	run := result.DrillRun{Name: dr.Name, Started: time.Now(), MinCoverage: dr.MinCoverage}
	ln, vars, err := openWebhook(dr)
	if err != nil {
		return run, result.Errored, err.Error()
	}
	if ln != nil {
		defer ln.close()
	}
	env := *ss.senv
	env.Vars = vars
	captures := map[string]cty.Value{}
	if err := ss.runSetup(ctx, dr, &env, captures); err != nil {
		return run, result.Errored, err.Error()
	}
	run.Started = time.Now()
	caught := 0
	for _, at := range dr.Attacks {
		if ctx.Err() != nil {
			break
		}
		ar := ss.runAttack(ctx, at, &env, captures, ln, run.Started)
		run.Attacks = append(run.Attacks, ar)
		if ss.recordAttack(dr, at, ar) {
			caught++
		}
	}
	if len(dr.Attacks) > 0 {
		run.Coverage = float64(caught) / float64(len(dr.Attacks))
	}
	if len(run.Attacks) < len(dr.Attacks) {
		return run, result.Errored, "interrupted before every attack ran"
	}
	if run.Coverage+1e-9 < dr.MinCoverage {
		return run, result.Failed, fmt.Sprintf("detection coverage %.0f%% is below the required %.0f%%", run.Coverage*100, dr.MinCoverage*100)
	}
	return run, result.Passed, ""
}

// openWebhook opens the drill's listener, if it asks for one, and returns
// the variables its steps see (webhook.url, empty without a listener).
func openWebhook(dr *Drill) (*listener, map[string]cty.Value, error) {
	url := ""
	var ln *listener
	if dr.Webhook != nil {
		var err error
		if ln, err = listen(dr.Webhook.Path); err != nil {
			return nil, nil, err
		}
		url = ln.url
	}
	return ln, map[string]cty.Value{"webhook": cty.ObjectVal(map[string]cty.Value{"url": cty.StringVal(url)})}, nil
}

// runSetup runs the drill's setup steps, recording each, and adds their
// captures to captures; the first that does not pass stops the drill.
func (ss *session) runSetup(ctx context.Context, dr *Drill, env *step.Env, captures map[string]cty.Value) error {
	for _, st := range dr.Setup {
		out := st.Run(ctx, env, captures)
		ss.env.Record(result.Result{Level: result.LevelStep, Case: "drill " + dr.Name, Step: st.Name, Phase: "setup", Status: out.Status,
			Message: out.Message, DurationMS: result.MS(out.Duration), Location: config.Location(st.DeclRange), Checks: out.Checks, Exchange: out.Exchange})
		if out.Status != result.Passed {
			return fmt.Errorf("setup step %q %s: %s", st.Name, out.Status, out.Message)
		}
		for k, v := range out.Captures {
			captures[k] = v
		}
	}
	return nil
}

// recordAttack records an attack as a step of the drill's case and says
// whether the defence caught it.
func (ss *session) recordAttack(dr *Drill, at *Attack, ar result.AttackRun) bool {
	st, msg, caught := result.Passed, "", false
	switch ar.Outcome {
	case "blocked", "detected":
		caught = true
	case "missed":
		st, msg = result.Failed, ar.Message
	default:
		st, msg = result.Errored, ar.Message
	}
	ss.env.Record(result.Result{Level: result.LevelStep, Case: "drill " + dr.Name, Step: at.Name, Phase: "test", Status: st,
		Message: msg, DurationMS: ar.SentMS - ar.StartMS, Location: config.Location(at.DeclRange)})
	return caught
}

// detection is the first sign of the defence, set once.
type detection struct {
	mu       sync.Mutex
	at       time.Time
	channel  string
	evidence string
}

func (d *detection) set(at time.Time, channel, evidence string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.at.IsZero() || at.Before(d.at) {
		d.at, d.channel, d.evidence = at, channel, evidence
	}
}

func (d *detection) get() (time.Time, string, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.at, d.channel, d.evidence
}

func (ss *session) logPath(det *Detection) string {
	if det.LogTarget != "" {
		return filepath.Join(ss.env.Dir, "targets", det.LogTarget+".log")
	}
	if filepath.IsAbs(det.LogFile) {
		return det.LogFile
	}
	return filepath.Join(ss.env.Config.Dir, det.LogFile)
}

// runAttack sends an attack while watching for its detection, and waits
// (at most the detection's time limit from the attack's start) for a sign.
func (ss *session) runAttack(ctx context.Context, at *Attack, senv *step.Env, captures map[string]cty.Value, ln *listener, drillStart time.Time) result.AttackRun {
	ar := result.AttackRun{Name: at.Name, Technique: at.Technique, MITRE: at.MITRE, WithinMS: result.MS(at.Detect.Within)}
	if ar.Technique == "" {
		ar.Technique = "steps"
	}
	det := &at.Detect
	var seen detection
	w := ss.watchFrom(det, ln)
	start := time.Now()
	ar.StartMS = result.MS(start.Sub(drillStart))
	deadline := start.Add(det.Within)
	wctx, stopWatch := context.WithDeadline(ctx, deadline)
	defer stopWatch()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		watch(wctx, det, w.logFile, w.offset, ln, w.hooksBefore, &seen)
	}()

	n, err := ss.sendAttack(ctx, at, senv, captures, func(code int) {
		if contains(det.Status, code) {
			seen.set(time.Now(), fmt.Sprintf("status %d", code), "")
		}
	})
	ar.Requests = n
	ar.SentMS = result.MS(time.Since(drillStart))
	if err != nil {
		stopWatch()
		wg.Wait()
		ar.Outcome, ar.Message = "error", err.Error()
		return ar
	}
	// Wait for the watcher until a sign is seen or the time limit passes.
	for {
		if t, _, _ := seen.get(); !t.IsZero() || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopWatch()
	wg.Wait()
	t, channel, evidence := seen.get()
	if t.IsZero() || t.After(deadline) {
		ar.Outcome = "missed"
		ar.Message = missed(det, w.logFile, n)
		return ar
	}
	ar.Outcome, ar.Channel, ar.Evidence = "detected", channel, evidence
	if strings.HasPrefix(channel, "status") {
		ar.Outcome = "blocked"
	}
	ar.DetectMS = result.MS(t.Sub(drillStart))
	ar.TimeToDetectMS = result.MS(t.Sub(start))
	return ar
}

// watchStart is where the log and the webhook stood when an attack began:
// only what comes after counts.
type watchStart struct {
	logFile     string
	offset      int64
	hooksBefore int
}

func (ss *session) watchFrom(det *Detection, ln *listener) watchStart {
	var w watchStart
	if det.LogPattern != nil {
		w.logFile = ss.logPath(det)
		if fi, err := os.Stat(w.logFile); err == nil {
			w.offset = fi.Size()
		}
	}
	if ln != nil {
		w.hooksBefore = ln.count()
	}
	return w
}

// missed says which signs did not come, for an attack of n requests.
func missed(det *Detection, logFile string, n int) string {
	var signs []string
	if len(det.Status) > 0 {
		signs = append(signs, fmt.Sprintf("no answer with status %v", det.Status))
	}
	if det.LogPattern != nil {
		signs = append(signs, fmt.Sprintf("no line matching %q in %s", det.LogPattern, logFile))
	}
	if det.Webhook {
		signs = append(signs, fmt.Sprintf("no webhook matching %q", det.WebhookMatch))
	}
	return fmt.Sprintf("missed: %s within %s of the attack's start (%d requests sent)", strings.Join(signs, ", "), det.Within, n)
}

// watch polls the log file (new lines only) and the webhook's calls until
// one matches or ctx ends.
func watch(ctx context.Context, det *Detection, logFile string, offset int64, ln *listener, hooksBefore int, seen *detection) {
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	var partial string
	for {
		if det.LogPattern != nil {
			if line, ok := scanLog(logFile, &offset, &partial, det); ok {
				seen.set(time.Now(), "log", line)
				return
			}
		}
		if det.Webhook && ln != nil {
			for _, h := range ln.since(hooksBefore) {
				if det.WebhookMatch.MatchString(h.body) {
					seen.set(h.at, "webhook", h.body)
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// scanLog reads what was appended to the file since offset and returns the
// first complete line matching the pattern.
func scanLog(path string, offset *int64, partial *string, det *Detection) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < *offset {
		*offset = 0 // rotated or truncated
	}
	if _, err := f.Seek(*offset, io.SeekStart); err != nil {
		return "", false
	}
	b, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false
	}
	*offset += int64(len(b))
	text := *partial + string(b)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	complete := strings.HasSuffix(text, "\n")
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	*partial = ""
	if !complete && len(lines) > 0 {
		*partial = lines[len(lines)-1]
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		if det.LogPattern.MatchString(l) {
			return l, true
		}
	}
	return "", false
}
