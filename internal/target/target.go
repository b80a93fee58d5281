// Package target reaches or starts the systems under test: a URL that is
// already served, the embedded demo bank started in-process, a process
// that cloudtest starts, supervises (restarting it when asked) and stops,
// or a container started through testcontainers-go.
package target

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/demobank"
)

// Instance is a reachable target for the duration of a run.
type Instance struct {
	Name   string
	URL    string
	Config *config.Target
	// Process is the supervised process of a process target, nil otherwise.
	Process *Supervisor
	// Container is the running container of a container target, nil otherwise.
	Container *Container
	// Kube is the port-forward of a Kubernetes target, nil otherwise.
	Kube *Kube
	stop func() error
}

// Stop stops what Start started; a URL target has nothing to stop.
func (i *Instance) Stop() error {
	if i == nil || i.stop == nil {
		return nil
	}
	err := i.stop()
	i.stop = nil
	return err
}

// Options say where a started target keeps its files.
type Options struct {
	// BaseDir resolves relative paths of the configuration (the suite directory).
	BaseDir string
	// WorkDir holds the targets' logs and data (the run directory's targets/).
	WorkDir string
	// Redact, when set, is applied to a process's output before it is
	// written to its log (the sensitive values it was started with);
	// Longest is the length of the longest secret it redacts.
	Redact  func(string) string
	Longest int
}

// Start makes a target reachable: it returns at once for a URL, starts the
// embedded demo bank on a free loopback port, or starts a process and waits
// until its readiness probe answers.
func Start(ctx context.Context, t *config.Target, opts Options) (*Instance, error) {
	inst := &Instance{Name: t.Name, Config: t}
	switch {
	case t.URL != "":
		inst.URL = strings.TrimRight(t.URL, "/")
		return inst, nil
	case t.Embedded == "demobank":
		return startDemobank(ctx, inst, opts)
	case t.Process != nil:
		sup, err := StartProcess(ctx, t.Name, t.Process, opts)
		if err != nil {
			return nil, err
		}
		inst.Process, inst.URL = sup, sup.URL
		inst.stop = sup.Stop
		return inst, nil
	case t.Container != nil:
		return startContainer(ctx, inst, opts)
	case t.Kubernetes != nil:
		return startKubernetes(ctx, inst, opts)
	}
	return nil, fmt.Errorf("target %q has no url, embedded system, process or container", t.Name)
}

func startDemobank(ctx context.Context, inst *Instance, opts Options) (*Instance, error) {
	o := inst.Config.EmbeddedOptions
	dataDir := o.DataDir
	if dataDir == "" {
		dataDir = filepath.Join(opts.WorkDir, inst.Name+"-data")
	} else if !filepath.IsAbs(dataDir) {
		dataDir = filepath.Join(opts.BaseDir, dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("target %q: %w", inst.Name, err)
	}
	logFile, err := os.OpenFile(filepath.Join(opts.WorkDir, inst.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", inst.Name, err)
	}
	srv, err := demobank.Start(ctx, "127.0.0.1:0", demobank.Options{
		DataDir:     dataDir,
		WriteBehind: o.WriteBehind,
		SlowPaths:   o.SlowPaths,
		Insecure:    o.Insecure,
		Log:         logFile,
	})
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("target %q: starting the demo bank: %w", inst.Name, err)
	}
	inst.URL = srv.URL
	inst.stop = func() error {
		return errors.Join(srv.Close(), logFile.Close())
	}
	return inst, nil
}

// waitReady polls url until it answers with a 2xx status, the context ends
// or timeout passes. exited, when it fires, means the process is gone.
func waitReady(ctx context.Context, url string, timeout time.Duration, exited <-chan struct{}) error {
	// The probe only asks whether something answers; certificate checks are
	// the business of the tests themselves.
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return nil
			}
			last = fmt.Errorf("%s answered %s", url, resp.Status)
		} else {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("the process exited before it was ready")
		case <-time.After(100 * time.Millisecond):
		}
	}
}
