// Command cloudtest runs acceptance suites written in HCL against systems a
// financial institution moves to the cloud, and writes an acceptance report.
// The command parses flags and calls the packages under internal/ and
// suites/ (the registry of suite kinds is suites.Kinds).
//
// The command line, the HCL language and the files of a run directory
// (docs/formats.md) are the product's interfaces; its Go packages are not.
// They stay under internal/ on purpose, so that the suite kinds, the fault
// engines and the result types can change shape without breaking anyone's
// build: a Go program that wants what cloudtest does runs the command and
// reads results.jsonl, report.json or the JUnit and SARIF files it writes.
// (suites/ is importable only for the layout of one package per kind; it
// promises no API either.)
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	stop := startProfiles()
	code := run(os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run suites and write the acceptance report", cmdRun},
		{"validate", "check suite files and print every problem found", cmdValidate},
		{"plan", "show which suites would run, in order, and their targets", cmdPlan},
		{"report", "render the report of a run directory again", cmdReport},
		{"verify", "check the signed manifest of a run directory", cmdVerify},
		{"recover", "remove the faults a crashed run left in place", cmdRecover},
		{"init", "write starter suites from an OpenAPI document or a browser recording (HAR)", cmdInit},
		{"demo", "serve the demo bank that the examples test", cmdDemo},
		{"version", "print the version", cmdVersion},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	stdout, stderr = newPrintable(stdout, stdoutSequences), newPrintable(stderr, stderrSequences)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "worker" {
		// Hidden: started by `cloudtest run` for a shared load, not listed.
		return cmdWorker(args[1:], stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "cloudtest: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `cloudtest runs acceptance suites (functional, performance, reliability, security)
against a system moved to the cloud and writes one acceptance report.

Usage:
  cloudtest <command> [flags] [DIR|FILE]

Commands:`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, `
Example:
  cloudtest run examples/demobank        # run every suite against the embedded demo bank
  cloudtest run --tag smoke --out out .  # only the suites tagged smoke

Run "cloudtest <command> --help" for the flags of a command.

Exit codes: 0 accepted, 1 rejected, 2 wrong command or configuration,
3 incomplete, 130 interrupted.`)
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", "", "Print the version of cloudtest.", "cloudtest version", stderr)
	if code, done := parse(fs, args); done {
		return code
	}
	fmt.Fprintln(stdout, "cloudtest", version)
	return exitOK
}
