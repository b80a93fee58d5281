package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/demobank"
	"github.com/cloudtest/cloudtest/internal/deploy"
	"github.com/cloudtest/cloudtest/internal/evidence"
	"github.com/cloudtest/cloudtest/internal/fault"
	"github.com/cloudtest/cloudtest/internal/report"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/step"
	"github.com/cloudtest/cloudtest/internal/target"
	"github.com/cloudtest/cloudtest/suites/performance"
)

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("run", "[DIR|FILE]",
		"Run the suites of DIR (every *.hcl file) or FILE and write the report to OUT/<run-id>/.",
		"cloudtest run --tag smoke --var base_url=http://127.0.0.1:8080 examples/demobank", stderr)
	var cf configFlags
	var sf selectionFlags
	cf.register(fs)
	sf.register(fs)
	out := fs.String("out", "out", "directory that receives the run directories")
	parallel := fs.Int("parallel", 1, "how many suites run at once")
	baseline := fs.String("baseline", "", "an earlier run directory: each performance suite is compared with the same suite there (regression)")
	expiry := fs.String("expiry-warning", "30d", "warn about evidence whose validity ends within this time")
	remoteWrite := fs.String("metrics-remote-write", "", "Prometheus remote-write URL (e.g. http://127.0.0.1:9090/api/v1/write) that gets the live figures of every performance suite once a second, labelled with the run id and the suite")
	signKey := fs.String("sign-key", "", "Ed25519 private key (PKCS #8 PEM) that signs manifest.json; default: a key made for this run, its public half kept as manifest.pub")
	if code, done := parse(fs, args); done {
		return code
	}
	path := pathArg(fs.Args())
	if *parallel < 1 || *parallel > 1024 {
		fmt.Fprintf(stderr, "cloudtest: --parallel %d: give how many suites run at once, from 1 to 1024\n", *parallel)
		return exitUsage
	}
	warnWithin, key, ok := checkRunFlags(*baseline, *expiry, *remoteWrite, *signKey, stderr)
	if !ok {
		return exitUsage
	}
	cfg, plan, ok := loadPlan(path, &cf, &sf, stderr)
	if !ok {
		return exitUsage
	}
	if err := emptySelection(plan, sf.selection()); err != nil {
		fmt.Fprintf(stderr, "cloudtest: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runID := runner.NewRunID(time.Now())
	stopSignals := onInterrupt(cancel, filepath.Join(*out, runID), stderr)
	defer stopSignals()
	progress := progressFor(stdout, len(plan.Suites))
	if tp, ok := progress.(*runner.TermProgress); ok {
		defer tp.Close()
	}
	sum, err := runner.Run(ctx, plan, runner.Options{
		OutDir: *out, RunID: runID, Parallel: *parallel, Version: version, Source: path, Progress: progress, Baseline: *baseline, MetricsRemoteWrite: *remoteWrite,
	})
	if tp, ok := progress.(*runner.TermProgress); ok {
		tp.Close() // before the verdict is printed below the status line
	}
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest: %v\n", err)
	}
	if sum == nil {
		return exitIncomplete
	}
	if err := evidence.Prepare(ctx, cfg, sum.Dir, sum.Run.Started, warnWithin); err != nil {
		fmt.Fprintf(stderr, "cloudtest: checking the evidence: %v\n", err)
	}
	// A signal during the evidence stops its reads; the run is then interrupted.
	code, model := finish(sum.Dir, sum.Interrupted || ctx.Err() != nil, true, stdout, stderr)
	signBundle(sum.Dir, model, key, stdout, stderr)
	return code
}

// progressFor is a status line on a terminal (outside CI), lines otherwise.
func progressFor(stdout io.Writer, suites int) runner.Progress {
	if isTerminal(stdout) && os.Getenv("CI") != "true" {
		return runner.NewTermProgress(stdout, suites)
	}
	return runner.NewLineProgress(stdout)
}

// loadPlan loads the suites at path and plans the selected ones; a problem
// is printed and ok is false.
func loadPlan(path string, cf *configFlags, sf *selectionFlags, stderr io.Writer) (*config.Config, *runner.Plan, bool) {
	cfg, ok := load(path, cf, stderr)
	if !ok {
		return nil, nil, false
	}
	if err := sf.check(cfg); err != nil {
		fmt.Fprintf(stderr, "cloudtest: %v\n", err)
		return nil, nil, false
	}
	plan, err := runner.NewPlan(cfg, sf.selection())
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest: %v\n", err)
		return nil, nil, false
	}
	return cfg, plan, true
}

// checkRunFlags checks run's flags that name a run, a duration, a URL and
// a key, and reads the last two; a problem is printed and ok is false.
func checkRunFlags(baseline, expiry, remoteWrite, signKey string, stderr io.Writer) (warnWithin time.Duration, key ed25519.PrivateKey, ok bool) {
	if baseline != "" {
		if _, err := os.Stat(filepath.Join(baseline, "results.jsonl")); err != nil {
			fmt.Fprintf(stderr, "cloudtest: --baseline %s is not a run directory: %v\n", baseline, err)
			return 0, nil, false
		}
	}
	warnWithin, err := config.ParseDuration(expiry)
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest: --expiry-warning %s: %v\n", expiry, err)
		return 0, nil, false
	}
	if remoteWrite != "" {
		if err := performance.RemoteWriteURLError(remoteWrite); err != nil {
			fmt.Fprintf(stderr, "cloudtest: --metrics-remote-write: %v\n", err)
			return 0, nil, false
		}
	}
	if signKey != "" {
		if key, err = evidence.LoadPrivateKey(signKey); err != nil {
			fmt.Fprintf(stderr, "cloudtest: --sign-key: %v\n", err)
			return 0, nil, false
		}
	}
	return warnWithin, key, true
}

// signBundle writes the in-toto attestation, which says what the report
// says, and the manifest, signed with key: the attestation first, so that
// the manifest lists it.
func signBundle(dir string, model *report.Model, key ed25519.PrivateKey, stdout, stderr io.Writer) {
	var attested *evidence.TestResult
	if model != nil {
		tr := model.TestResult()
		attested = &tr
	}
	if err := evidence.SignBundle(dir, key, attested); err != nil {
		fmt.Fprintf(stderr, "cloudtest: signing the bundle: %v\n", err)
	} else {
		fmt.Fprintf(stdout, "Bundle: %s and %s signed (check them with: cloudtest verify %s)\n",
			filepath.Join(dir, evidence.ManifestFile), evidence.AttestationFile, dir)
	}
}

// finish renders the report of dir and turns its verdict into an exit
// code (interrupted when the run says so or interrupted is set); it
// returns the report's model too (nil when it could not be written), so
// that the results are read once. After a run that stdout showed (live),
// a failed suite's reason points at its failures printed above instead of
// printing them again.
func finish(dir string, interrupted, live bool, stdout, stderr io.Writer) (int, *report.Model) {
	model, err := report.Render(dir)
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest: writing the report: %v\n", err)
		return exitIncomplete, nil
	}
	fmt.Fprintf(stdout, "\nVerdict: %s\n", model.Verdict)
	reasons := model.Reasons
	if live {
		reasons = model.Recap
	}
	for _, r := range reasons {
		fmt.Fprintf(stdout, "  - %s\n", strings.ReplaceAll(strings.ReplaceAll(result.Printable(r), "\n", "\n    "), "\n    \n", "\n\n"))
	}
	for _, w := range model.Warnings {
		fmt.Fprintf(stdout, "Warning: %s\n", result.Printable(w))
	}
	fmt.Fprintf(stdout, "Report: %s\n", filepath.Join(dir, "report.html"))
	if interrupted || model.Run.Interrupted {
		fmt.Fprintln(stdout, "The run was interrupted: the report holds what was measured until then.")
		return exitInterrupted, model
	}
	return model.Verdict.ExitCode(), model
}

// onInterrupt cancels the run on the first SIGINT or SIGTERM and exits at
// once on the second, saying how to remove what that may leave (the faults
// of the run in dir).
func onInterrupt(cancel context.CancelFunc, dir string, stderr io.Writer) (stop func()) {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-ch:
		case <-done:
			return
		}
		fmt.Fprintln(stderr, "\ncloudtest: interrupted; removing the faults, stopping the suites and writing a partial report (press Ctrl-C again to quit at once)")
		cancel()
		select {
		case <-ch:
			// The target processes go with cloudtest (SIGKILL, no
			// waiting): nobody would stop them otherwise.
			n := target.KillAll()
			fmt.Fprintf(stderr, "cloudtest: quit at once (%d target processes killed); the report may be incomplete, and faults may still be in place: run `cloudtest recover %s`\n", n, dir)
			os.Exit(exitInterrupted)
		case <-done:
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("validate", "[DIR|FILE]",
		"Check the suites of DIR or FILE without running them and print every problem with its file and line.",
		"cloudtest validate examples/demobank", stderr)
	var cf configFlags
	cf.register(fs)
	if code, done := parse(fs, args); done {
		return code
	}
	path := pathArg(fs.Args())
	cfg, ok := load(path, &cf, stderr)
	if !ok {
		return exitUsage
	}
	if _, err := runner.NewPlan(cfg, runner.Selection{}); err != nil {
		fmt.Fprintf(stderr, "cloudtest: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "%s: %d suites and %d targets are valid\n", path, len(cfg.Suites), len(cfg.Targets))
	return exitOK
}

func cmdPlan(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("plan", "[DIR|FILE]",
		"Show which suites a run would execute, in order, with their kind, component and target.",
		"cloudtest plan --only functional examples/demobank", stderr)
	var cf configFlags
	var sf selectionFlags
	cf.register(fs)
	sf.register(fs)
	emitChaos := fs.String("emit-chaos", "", "also write the Chaos Mesh YAML of every fault of the selected suites into this directory, for teams that apply them on Kubernetes")
	if code, done := parse(fs, args); done {
		return code
	}
	path := pathArg(fs.Args())
	cfg, plan, ok := loadPlan(path, &cf, &sf, stderr)
	if !ok {
		return exitUsage
	}
	if *emitChaos != "" {
		suites := make([]config.Suite, len(plan.Suites))
		for i, s := range plan.Suites {
			suites[i] = s
		}
		if err := writeChaos(*emitChaos, suites, stdout); err != nil {
			fmt.Fprintf(stderr, "cloudtest: --emit-chaos: %v\n", err)
			return exitUsage
		}
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSUITE\tKIND\tCOMPONENT\tTARGET\tTAGS\tDEPENDS ON\tDEFINED AT")
	for i, s := range plan.Suites {
		c := s.Common()
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", i+1, c.Name, c.Kind, dash(strings.Join(c.Components, ",")),
			dash(c.Target), dash(strings.Join(c.Tags, ",")), dash(strings.Join(c.DependsOn, ",")), locationOf(c.DeclRange.Filename, c.DeclRange.Start.Line))
	}
	tw.Flush()
	writePlanTargets(stdout, cfg, plan)
	if len(plan.Suites) == 0 {
		fmt.Fprintln(stdout, "No suite matches the selection.")
	}
	if cfg.Deployment != nil {
		reqs, waivers, _ := deploy.Requirements(cfg)
		fmt.Fprintf(stdout, "\nAcceptance matrix of the %s deployment (%d requirements):\n", cfg.Deployment.Mode, len(reqs))
		deploy.WriteTable(stdout, reqs, waivers)
		if len(sf.selection().Describe()) > 0 {
			fmt.Fprintf(stdout, "A run of this selection (%s) is judged on the suites above; it does not assess this matrix.\n", strings.Join(sf.selection().Describe(), " "))
		}
	}
	return exitOK
}

// writePlanTargets lists the plan's targets and how each is reached.
func writePlanTargets(stdout io.Writer, cfg *config.Config, plan *runner.Plan) {
	if len(plan.Targets) == 0 {
		return
	}
	// A command line or a URL's userinfo may hold a sensitive value.
	redactor := step.NewRedactor(cfg.SensitiveValues())
	fmt.Fprintln(stdout, "\nTargets:")
	for _, name := range plan.Targets {
		t := cfg.Targets[name]
		how := t.URL
		switch {
		case t.Embedded != "":
			how = "embedded " + t.Embedded + " (started by cloudtest on a free loopback port)"
		case t.Process != nil:
			how = "process " + strings.Join(t.Process.Command, " ") + " (started and supervised by cloudtest)"
		case t.Kubernetes != nil:
			how = "kubernetes " + kubeWhat(t.Kubernetes) + " (reached through a port-forward over the API server)"
		}
		fmt.Fprintf(stdout, "  %s: %s\n", name, redactor.String(how))
	}
}

// writeChaos writes the Chaos Mesh manifests of the faults of every suite
// that has faults.
func writeChaos(dir string, suites []config.Suite, stdout io.Writer) error {
	var n int
	for _, s := range suites {
		c, ok := s.(fault.Carrier)
		if !ok || len(c.FaultSpecs()) == 0 {
			continue
		}
		paths, err := fault.WriteChaos(dir, s.Common().Name, c.FaultSpecs())
		n += len(paths)
		if err != nil {
			return err
		}
	}
	if n == 0 {
		fmt.Fprintf(stdout, "Chaos Mesh YAML: no suite of the selection has faults; nothing written to %s\n\n", dir)
		return nil
	}
	fmt.Fprintf(stdout, "Chaos Mesh YAML: %d manifests written to %s (apply them with kubectl apply -f %s)\n\n", n, dir, dir)
	return nil
}

func cmdRecover(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("recover", "RUN_DIR",
		"Remove the faults that the journals of a run directory record as injected and never removed, as after a crash: stopped processes are continued, paused containers unpaused, disconnected ones connected again; then remove the run's containers and networks, stop the target processes it left running, and delete its load generator pods (runner = \"kubernetes\": their Job, ConfigMap and Secret).",
		"cloudtest recover out/20261124-210102-3fa2", stderr)
	timeout := fs.String("timeout", "2m", "give up the removals after this time")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	dir := fs.Arg(0)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "cloudtest: %s is not a directory\n", dir)
		return exitUsage
	}
	d, err := config.ParseDuration(*timeout)
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest: --timeout %s: %v\n", *timeout, err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n, err := fault.Recover(ctx, dir, stdout)
	left, lerr := recoverLeftovers(ctx, dir, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest: some faults could not be removed: %v\n", err)
		fmt.Fprintf(stdout, "%s: %d faults removed, others are still in place (see above)\n", dir, n)
		return exitRejected
	}
	switch {
	case n == 0 && left == 0:
		fmt.Fprintf(stdout, "%s: no fault, container, network, process or load generator object was left in place; nothing to remove\n", dir)
	case left == 0:
		fmt.Fprintf(stdout, "%s: %d faults removed; none is left in place\n", dir, n)
	default:
		fmt.Fprintf(stdout, "%s: %d faults and %d containers, networks, processes or load generator objects removed\n", dir, n, left)
	}
	if lerr != nil {
		return exitRejected
	}
	return exitOK
}

// recoverLeftovers removes what a run directory's run left behind besides
// its faults: its containers and networks, its target processes and its
// load generator objects. It returns how many it removed, and an error when
// some could not be, each also told on stderr.
func recoverLeftovers(ctx context.Context, dir string, stdout, stderr io.Writer) (int, error) {
	// The containers and networks of the run's targets, which a crashed
	// run leaves behind too (faults first: unpausing a container about to
	// go does no harm).
	left, lerr := target.RemoveLeftovers(ctx, dir, stdout)
	if lerr != nil {
		fmt.Fprintf(stderr, "cloudtest: some containers or networks of the run could not be removed: %v\n", lerr)
	}
	// And the target processes it started and left running (a kill -9),
	// known by pid and start time from the run's process journal.
	procs, perr := target.StopLeftoverProcesses(dir, stdout)
	if perr != nil {
		fmt.Fprintf(stderr, "cloudtest: some target processes of the run could not be stopped: %v\n", perr)
		lerr = errors.Join(lerr, perr)
	}
	left += procs
	// And the load generator pods of runner = "kubernetes" (their Job,
	// pods, ConfigMap and Secret), found by the run's labels.
	gens, gerr := performance.RecoverGenerators(ctx, dir, stdout)
	if gerr != nil {
		fmt.Fprintf(stderr, "cloudtest: some load generator objects of the run could not be deleted: %v\n", gerr)
		lerr = errors.Join(lerr, gerr)
	}
	return left + gens, lerr
}

func cmdVerify(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", "RUN_DIR",
		"Check the signature of a run directory's manifest.json and the digest of every file, and the signature and subjects of its in-toto attestation (attestation.intoto.json); name each file added, removed or changed.",
		"cloudtest verify --public-key bank-qa.pub out/20261124-210102-3fa2", stderr)
	pub := fs.String("public-key", "", "PEM public key to check the signature with (default: the run's manifest.pub, which only detects accidental changes)")
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	problems, err := evidence.VerifyBundle(fs.Arg(0), *pub)
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest: %s: %v\n", fs.Arg(0), err)
		return exitRejected
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "%s: %s\n", p.What, p.File)
	}
	if len(problems) > 0 {
		fmt.Fprintf(stdout, "%s does not match its manifest: %d files differ\n", fs.Arg(0), len(problems))
		return exitRejected
	}
	fmt.Fprintf(stdout, "%s: the signature and every digest are good\n", fs.Arg(0))
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func locationOf(file string, line int) string { return fmt.Sprintf("%s:%d", file, line) }

func cmdReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", "RUN_DIR",
		"Render report.html, report.json, junit.xml, summary.md, oscal-assessment-results.json and findings.sarif of a run directory again from its results.",
		"cloudtest report out/20261124-210102-3fa2", stderr)
	if code, done := parse(fs, args); done {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	if _, err := os.Stat(filepath.Join(fs.Arg(0), "run.json")); err != nil {
		fmt.Fprintf(stderr, "cloudtest: %s is not a run directory: %v\n", fs.Arg(0), err)
		return exitUsage
	}
	code, model := finish(fs.Arg(0), false, false, stdout, stderr)
	if model == nil {
		// The run directory cannot be read back: the argument is wrong
		// (as before the report was rendered by finish), not the run.
		return exitUsage
	}
	return code
}

func cmdDemo(args []string, stdout, stderr io.Writer) int {
	return demobank.Main(args, stdout, stderr)
}

// kubeWhat names what a Kubernetes target selects, for plan.
func kubeWhat(k *config.Kubernetes) string {
	ns := k.Namespace
	if ns == "" {
		ns = "(the context's namespace)"
	}
	what := "service " + ns + "/" + k.Service
	if k.Service == "" {
		var sel []string
		for _, key := range slices.Sorted(maps.Keys(k.Selector)) {
			sel = append(sel, key+"="+k.Selector[key])
		}
		what = "pods " + strings.Join(sel, ",") + " in " + ns
	}
	if k.Port != 0 {
		what += fmt.Sprintf(" port %d", k.Port)
	}
	return what
}
