package demobank

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type slowFlag map[string]time.Duration

func (s slowFlag) String() string { return "" }
func (s slowFlag) Set(v string) error {
	path, dur, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(path, "/") {
		return fmt.Errorf("want PATH=DURATION such as /api/transfers=200ms, got %q", v)
	}
	d, err := time.ParseDuration(dur)
	if err != nil {
		return fmt.Errorf("%q: %w", v, err)
	}
	s[path] = d
	return nil
}

// Main is `cloudtest demo`: it serves a bank until SIGINT or SIGTERM.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	data := fs.String("data", "", "directory of the journal (empty: state in memory only)")
	behind := fs.Duration("write-behind", 0, "acknowledge writes before they are on disk and flush them at this interval (a kill loses them)")
	insecure := fs.Bool("insecure", false, "drop security headers, login throttling and object-level authorization; serve /admin/users without authentication")
	logPath := fs.String("log", "", "append one JSON line per request to this file")
	keyFile := fs.String("session-key-file", "", "sign tokens with the key in this file (at least 32 bytes; a mounted Secret) instead of one kept in --data")
	slow := slowFlag{}
	fs.Var(slow, "slow-path", "add latency to a path prefix: --slow-path /api/transfers=200ms (repeatable)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: cloudtest demo [flags]

Serve the demo bank: login, accounts, transfers and a ledger, for the examples
to test. Users: alice/wonderland, bob/builder, carol/caterpillar.

Example:
  cloudtest demo --listen 127.0.0.1:8080 --data /tmp/bank --write-behind 500ms

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	opts := Options{DataDir: *data, WriteBehind: *behind, SlowPaths: slow, Insecure: *insecure, SessionKeyFile: *keyFile}
	if *logPath != "" {
		f, err := os.OpenFile(*logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintf(stderr, "demo: %v\n", err)
			return 2
		}
		defer f.Close()
		opts.Log = f
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := Start(ctx, *listen, opts)
	if err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "demobank listening on %s\n", srv.URL)
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "demo: %v\n", err)
		return 1
	}
	return 0
}
