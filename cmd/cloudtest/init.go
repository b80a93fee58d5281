package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/cloudtest/cloudtest/internal/scaffold"
)

func cmdInit(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("init", "--from-openapi FILE | --from-har FILE [DIR]",
		"Write starter suites into DIR (default: the current directory). From an OpenAPI 3 document: a functional suite with one case per operation (its example request, success status and required answer fields) and a security suite that tries every GET path without credentials. From a browser recording (HAR): a performance suite whose journey replays the recorded requests in order, static assets left out, tokens captured. Edit them, then run `cloudtest validate DIR`.",
		"cloudtest init --from-openapi openapi.yaml --base-url http://127.0.0.1:8080 suites/api", stderr)
	from := fs.String("from-openapi", "", "the OpenAPI 3 document (JSON or YAML) to start from")
	har := fs.String("from-har", "", "the browser recording (HAR 1.2) to make a performance journey from")
	duration := fs.String("duration", "30s", "with --from-har: the duration of the starter load")
	base := fs.String("base-url", "", "default of variable base_url (default: the document's first server)")
	force := fs.Bool("force", false, "overwrite files that exist")
	if code, done := parse(fs, args); done {
		return code
	}
	if (*from == "") == (*har == "") || fs.NArg() > 1 {
		fmt.Fprintln(stderr, "cloudtest init: give one of --from-openapi FILE or --from-har FILE")
		fs.Usage()
		return exitUsage
	}
	dir := pathArg(fs.Args())
	flag, file := "--from-openapi", *from
	if *har != "" {
		flag, file = "--from-har", *har
	}
	src, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest: %s: %v\n", flag, err)
		return exitUsage
	}
	var files scaffold.Files
	if *har != "" {
		files, err = scaffold.FromHAR(src, scaffold.HAROptions{Duration: *duration})
	} else {
		files, err = scaffold.FromOpenAPI(src, scaffold.Options{BaseURL: *base, DocName: filepath.Base(*from)})
	}
	if err != nil {
		fmt.Fprintf(stderr, "cloudtest: %s %s: %v\n", flag, file, err)
		return exitUsage
	}
	if err := writeFiles(dir, files, *force, stdout); err != nil {
		fmt.Fprintf(stderr, "cloudtest: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stdout, "Check them with: cloudtest validate %s\n", dir)
	return exitOK
}

// writeFiles writes the starter files into dir in name order, none unless
// every one is new or force says to overwrite it.
func writeFiles(dir string, files scaffold.Files, force bool, stdout io.Writer) error {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil && !force {
			return fmt.Errorf("%s exists; use --force to overwrite it", filepath.Join(dir, name))
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	sort.Strings(names)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range names {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, name))
	}
	return nil
}
