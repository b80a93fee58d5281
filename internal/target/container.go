package target

import (
	"context"
	"errors"
	"fmt"
	"github.com/cloudtest/cloudtest/internal/freeport"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Container is a running container target.
type Container struct {
	// ID and Name are Docker's.
	ID, Name string
	// Network and NetworkID name the Docker network created for the
	// container alone, so that a partition can disconnect it.
	Network, NetworkID string
	// Image is the image it runs; HostPort the fixed loopback port its
	// first container port is published on, kept across restarts.
	Image    string
	HostPort int
	// Restart is the target's restart policy: "never" or "always".
	Restart string
}

var ryukOff sync.Once

// DockerClient connects to the Docker engine the way testcontainers-go
// does. The reaper is turned off first: it needs an image pulled from a
// registry, and cloudtest removes what it starts itself. Every Docker call
// of cloudtest goes through here first.
func DockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	disableReaper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("connecting to the Docker engine: %w", err)
	}
	return cli, nil
}

func disableReaper() {
	ryukOff.Do(func() {
		// Its progress lines would mix with cloudtest's own output; errors
		// come back as values.
		tclog.SetDefault(tclog.NewNoopLogger())
		if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
	})
}

// StartContainer builds or finds the image of c, creates a network for the
// container, starts it with its first port published on a fixed free
// loopback port (so that its URL survives a kill and a start), and waits
// until c.Wait answers.
func StartContainer(ctx context.Context, name string, c *config.Container, demo config.EmbeddedOptions, opts Options) (inst *Container, url string, stop func() error, err error) {
	req, err := containerRequest(ctx, name, c, demo)
	if err != nil {
		return nil, "", nil, err
	}
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	labels := map[string]string{"cloudtest.target": name, runDirLabel: runDirOf(opts)}
	nw, err := tcnetwork.New(ctx, tcnetwork.WithLabels(labels))
	if err != nil {
		return nil, "", nil, fmt.Errorf("target %q: creating its network: %w", name, err)
	}
	removeNetwork := func() error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return nw.Remove(rctx)
	}
	first, err := network.ParsePort(withProto(c.Ports[0]))
	if err != nil {
		return nil, "", nil, errors.Join(fmt.Errorf("target %q: port %q: %w", name, c.Ports[0], err), removeNetwork())
	}
	req.Labels = labels
	req.Networks = []string{nw.Name}
	req.NetworkAliases = map[string][]string{nw.Name: {sanitize(name)}}
	var hostPort int
	req.HostConfigModifier = hostConfig(c, first, &hostPort)

	ctr, err := startOnFreePort(ctx, name, suffix, &req, &hostPort)
	if ctr == nil && err != nil {
		return nil, "", nil, errors.Join(fmt.Errorf("target %q: %w", name, err), removeNetwork())
	}
	inst = &Container{
		ID: ctr.GetContainerID(), Name: req.Name, Network: nw.Name, NetworkID: nw.ID,
		Image: req.Image, HostPort: hostPort, Restart: c.Restart,
	}
	if inst.Image == "" {
		inst.Image = req.FromDockerfile.Repo + ":" + req.FromDockerfile.Tag
	}
	logPath := filepath.Join(opts.WorkDir, name+".log")
	stop = func() error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		logErr := saveLogs(rctx, inst.ID, logPath, opts)
		// Terminate removes the container, whatever state a fault left it in.
		termErr := ctr.Terminate(rctx)
		return errors.Join(termErr, removeNetwork(), logErr)
	}
	if err != nil {
		return nil, "", nil, errors.Join(fmt.Errorf("target %q: starting its container: %w", name, err), stop())
	}
	url = fmt.Sprintf("http://127.0.0.1:%d", hostPort)
	if c.Wait != "" {
		if err := waitReady(ctx, url+c.Wait, c.WaitTimeout, nil); err != nil {
			return nil, "", nil, errors.Join(fmt.Errorf("target %q: %w (its log is in %s)", name, err, logPath), stop())
		}
	}
	return inst, url, stop, nil
}

// containerRequest is what the container of c runs: its image (given,
// built from a directory once per content, or the demo bank's), command,
// environment and ports.
func containerRequest(ctx context.Context, name string, c *config.Container, demo config.EmbeddedOptions) (testcontainers.ContainerRequest, error) {
	req := testcontainers.ContainerRequest{Env: c.Env, Cmd: c.Cmd, ExposedPorts: c.Ports}
	cli, err := DockerClient(ctx)
	if err != nil {
		return req, fmt.Errorf("target %q: %w", name, err)
	}
	defer cli.Close()
	switch {
	case c.Image != "":
		req.Image = c.Image
	case c.Build != "":
		tag, err := buildTag("build-"+name, c.Build)
		if err != nil {
			return req, fmt.Errorf("target %q: %w", name, err)
		}
		if imageExists(ctx, cli, tag) {
			req.Image = tag
		} else {
			repo, version, _ := strings.Cut(tag, ":")
			req.FromDockerfile = testcontainers.FromDockerfile{Context: c.Build, Repo: repo, Tag: version, KeepImage: true}
		}
	case c.Embedded == "demobank":
		req.Image, err = DemobankImage(ctx)
		if err != nil {
			return req, fmt.Errorf("target %q: %w", name, err)
		}
		req.Cmd = append(demobankArgs(c, demo), c.Cmd...)
	default:
		return req, fmt.Errorf("target %q: the container has no build, image or embedded system", name)
	}
	if len(c.Ports) == 0 {
		return req, fmt.Errorf("target %q: the container publishes no port", name)
	}
	return req, nil
}

// hostConfig publishes the container's ports on loopback, the first on
// *hostPort (the URL's, fixed so that it survives a restart), the others
// on ports Docker picks, and sets the restart policy.
func hostConfig(c *config.Container, first network.Port, hostPort *int) func(*container.HostConfig) {
	return func(hc *container.HostConfig) {
		loopback := netip.MustParseAddr("127.0.0.1")
		hc.PortBindings = network.PortMap{}
		for _, p := range c.Ports {
			port, err := network.ParsePort(withProto(p))
			if err != nil {
				continue
			}
			hp := "0"
			if port == first {
				hp = strconv.Itoa(*hostPort)
			}
			hc.PortBindings[port] = []network.PortBinding{{HostIP: loopback, HostPort: hp}}
		}
		if c.Restart == "always" {
			hc.RestartPolicy = container.RestartPolicy{Name: container.RestartPolicyAlways}
		}
	}
}

// startOnFreePort starts the container with its first port on a free
// loopback port, trying another when the port was taken between the check
// and Docker's bind. A container that was created but did not start is
// returned with the error, for its removal.
func startOnFreePort(ctx context.Context, name, suffix string, req *testcontainers.ContainerRequest, hostPort *int) (testcontainers.Container, error) {
	var ctr testcontainers.Container
	var err error
	for attempt := range 3 {
		if *hostPort, err = freeport.Loopback(); err != nil {
			return nil, err
		}
		req.Name = fmt.Sprintf("cloudtest-%s-%s-%d", sanitize(name), suffix, attempt)
		ctr, err = testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{ContainerRequest: *req, Started: true})
		if err == nil || ctr == nil || !portTaken(err) {
			break
		}
		ctr.Terminate(context.WithoutCancel(ctx))
		ctr = nil
	}
	if ctr == nil && err != nil {
		return nil, fmt.Errorf("starting its container: %w", err)
	}
	return ctr, err
}

func startContainer(ctx context.Context, inst *Instance, opts Options) (*Instance, error) {
	c, url, stop, err := StartContainer(ctx, inst.Name, inst.Config.Container, inst.Config.EmbeddedOptions, opts)
	if err != nil {
		return nil, err
	}
	inst.Container, inst.URL, inst.stop = c, url, stop
	return inst, nil
}

// demobankArgs are the flags of `cloudtest demo` inside the image. The
// journal lives in the container's own filesystem, which survives a kill
// and a start of the same container.
func demobankArgs(c *config.Container, o config.EmbeddedOptions) []string {
	port, _, _ := strings.Cut(c.Ports[0], "/")
	args := []string{"demo", "--listen", ":" + port, "--data", "/data"}
	if o.WriteBehind > 0 {
		args = append(args, "--write-behind", o.WriteBehind.String())
	}
	if o.Insecure {
		args = append(args, "--insecure")
	}
	for _, path := range slices.Sorted(maps.Keys(o.SlowPaths)) {
		args = append(args, "--slow-path", path+"="+o.SlowPaths[path].String())
	}
	return args
}

func portTaken(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use")
}

func withProto(p string) string {
	if strings.Contains(p, "/") {
		return p
	}
	return p + "/tcp"
}

func sanitize(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, name)
}

func imageExists(ctx context.Context, cli *testcontainers.DockerClient, ref string) bool {
	_, err := cli.ImageInspect(ctx, ref)
	return err == nil
}

// saveLogs writes everything the container printed, over all its restarts,
// to path, through the run's redactor like a process target's output (the
// container echoes what it was given, secrets included).
func saveLogs(ctx context.Context, id, path string, opts Options) error {
	cli, err := DockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	rc, err := cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return fmt.Errorf("reading the container's log: %w", err)
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w := newRedactWriter(f, opts.Redact, opts.Longest)
	_, err = stdcopy.StdCopy(w, w, rc)
	if rw, ok := w.(*redactWriter); ok {
		err = errors.Join(err, rw.Flush())
	}
	return errors.Join(err, f.Close())
}

// runDirLabel marks the containers and networks of a run with the run
// directory, so that `cloudtest recover DIR` finds what a crashed run left
// (the reaper, which would otherwise remove them, is off).
const runDirLabel = "cloudtest.run_dir"

// runDirOf is the run directory a target's work directory belongs to.
func runDirOf(opts Options) string {
	dir, err := filepath.Abs(filepath.Dir(opts.WorkDir))
	if err != nil {
		return filepath.Dir(opts.WorkDir)
	}
	return dir
}

// RemoveLeftovers removes the containers and networks that the run in
// runDir started and did not remove (it crashed or was killed), saying each
// on w; it returns how many it removed.
func RemoveLeftovers(ctx context.Context, runDir string, w io.Writer) (int, error) {
	dir, err := filepath.Abs(runDir)
	if err != nil {
		return 0, err
	}
	cli, err := DockerClient(ctx)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	filter := client.Filters{}.Add("label", runDirLabel+"="+dir)
	var n int
	var errs []error
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if client.IsErrConnectionFailed(err) {
		return 0, nil // no Docker engine, so no container of the run either
	}
	if err != nil {
		return 0, err
	}
	for _, c := range cs.Items {
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", c.ID[:12], err))
			continue
		}
		n++
		fmt.Fprintf(w, "removed container %s of target %q\n", strings.TrimPrefix(firstName(c.Names), "/"), c.Labels["cloudtest.target"])
	}
	ns, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return n, errors.Join(append(errs, err)...)
	}
	for _, nw := range ns.Items {
		if _, err := cli.NetworkRemove(ctx, nw.ID, client.NetworkRemoveOptions{}); err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", nw.Name, err))
			continue
		}
		n++
		fmt.Fprintf(w, "removed network %s of target %q\n", nw.Name, nw.Labels["cloudtest.target"])
	}
	return n, errors.Join(errs...)
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}
