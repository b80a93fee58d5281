package target

import (
	"bufio"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/cloudtest/cloudtest/internal/config"
)

// ImagePrefix starts the name of every image cloudtest builds
// (<prefix>-demobank:<digest>, <prefix>-build-<target>:<digest>). Tests
// set their own so that test binaries running side by side never remove
// each other's images.
var ImagePrefix = "cloudtest"

const modulePath = "github.com/cloudtest/cloudtest"

// demobankDockerfile runs cloudtest itself: the demo bank is one of its
// commands, and a static binary needs nothing else in the image.
const demobankDockerfile = `FROM scratch
LABEL ` + imageLabel + `="demobank"
COPY cloudtest /cloudtest
ENTRYPOINT ["/cloudtest"]
CMD ["demo", "--listen", ":8080", "--data", "/data"]
`

var demobankImage struct {
	sync.Mutex
	tag string
}

// DemobankImage returns the tag of an image that serves the demo bank,
// building it when no image of this cloudtest exists yet. The tag is the
// digest of the binary, so a rebuilt cloudtest gets a new image and an
// unchanged one reuses the old.
func DemobankImage(ctx context.Context) (string, error) {
	demobankImage.Lock()
	defer demobankImage.Unlock()
	if demobankImage.tag != "" {
		// Another cloudtest (before this rule, or a user) may have removed
		// it since: then it is built again rather than failing a restart.
		if cli, err := DockerClient(ctx); err == nil {
			exists := imageExists(ctx, cli, demobankImage.tag)
			cli.Close()
			if exists {
				return demobankImage.tag, nil
			}
		}
	}
	bin, cleanup, err := staticCloudtest(ctx)
	if err != nil {
		return "", err
	}
	defer cleanup()
	sum, err := config.FileDigest(ctx, bin)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	io.WriteString(h, sum)
	io.WriteString(h, demobankDockerfile)
	tag := ImagePrefix + "-demobank:" + hex.EncodeToString(h.Sum(nil))[:16]

	cli, err := DockerClient(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	if !imageExists(ctx, cli, tag) {
		if err := buildDemobankImage(ctx, cli, bin, tag); err != nil {
			return "", err
		}
		pruneDemobankImages(ctx, cli, tag, time.Now())
	}
	demobankImage.tag = tag
	return tag, nil
}

// imageLabel marks the images cloudtest builds, so that it never removes
// an image of the same name that it did not make.
const imageLabel = "io.cloudtest.image"

// staleImage is how old a demo bank image of another cloudtest binary must
// be before building a new one removes it. Each binary makes its own image
// (about 70 MB), so without pruning a developer's disk fills; but on a
// shared Docker engine (a CI runner) another job may be using its image
// right now, between two containers (a reliability suite restarts its
// target), where Docker's own check (no container uses it) does not
// protect it. No job runs for a day.
const staleImage = 24 * time.Hour

// pruneDemobankImages removes demo bank images that cloudtest built more
// than staleImage ago, keeping the one just built. Docker refuses to
// remove an image that any container, running or stopped, still uses, and
// that refusal is left as it is (no force).
func pruneDemobankImages(ctx context.Context, cli *testcontainers.DockerClient, keep string, now time.Time) {
	repo, _, _ := strings.Cut(keep, ":")
	list, err := cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return
	}
	for _, img := range list.Items {
		if img.Labels[imageLabel] != "demobank" || now.Sub(time.Unix(img.Created, 0)) < staleImage {
			continue
		}
		for _, ref := range img.RepoTags {
			if r, _, _ := strings.Cut(ref, ":"); r == repo && ref != keep {
				cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
			}
		}
	}
}

func buildDemobankImage(ctx context.Context, cli *testcontainers.DockerClient, bin, tag string) error {
	dir, err := os.MkdirTemp("", "cloudtest-image-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := copyFile(bin, filepath.Join(dir, "cloudtest")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(demobankDockerfile), 0o644); err != nil {
		return err
	}
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("connecting to the Docker engine: %w", err)
	}
	defer provider.Close()
	repo, version, _ := strings.Cut(tag, ":")
	var buildLog strings.Builder
	_, err = provider.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Repo: repo, Tag: version, KeepImage: true, BuildLogWriter: &buildLog,
	}})
	if err != nil {
		return fmt.Errorf("building the demo bank image %s: %w\n%s", tag, err, buildLog.String())
	}
	return nil
}

// staticCloudtest returns a statically linked cloudtest binary: the running
// one when it is cloudtest and static, else one built with CGO_ENABLED=0
// from the module's source (`go run` and test binaries are neither).
func staticCloudtest(ctx context.Context) (path string, cleanup func(), err error) {
	exe, err := os.Executable()
	if err == nil {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Path == modulePath+"/cmd/cloudtest" {
			if static, err := isStatic(exe); err == nil && static {
				return exe, func() {}, nil
			}
		}
	}
	src := moduleSource()
	if src == "" {
		return "", nil, errors.New("the demo bank image needs a statically linked cloudtest: this one is dynamically linked " +
			"and the source to build one is not here; build cloudtest with CGO_ENABLED=0 go build ./cmd/cloudtest and run that binary")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", nil, fmt.Errorf("the demo bank image needs a statically linked cloudtest and the go tool to build one from %s: %w", src, err)
	}
	dir, err := os.MkdirTemp("", "cloudtest-static-")
	if err != nil {
		return "", nil, err
	}
	out := filepath.Join(dir, "cloudtest")
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, "./cmd/cloudtest")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("building a static cloudtest for the demo bank image (CGO_ENABLED=0 go build ./cmd/cloudtest in %s): %w\n%s", src, err, msg)
	}
	return out, func() { os.RemoveAll(dir) }, nil
}

// isStatic reports whether the ELF file at path asks for no dynamic loader.
func isStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// moduleSource finds the directory of cloudtest's go.mod: where this file
// was compiled from, or the working directory or one of its parents.
func moduleSource() string {
	var candidates []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		candidates = append(candidates, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		candidates = append(candidates, wd)
	}
	for _, dir := range candidates {
		for {
			if isCloudtestModule(dir) {
				return dir
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

func isCloudtestModule(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			if strings.TrimSpace(strings.TrimPrefix(line, "module ")) != modulePath {
				return false
			}
			_, err := os.Stat(filepath.Join(dir, "cmd", "cloudtest"))
			return err == nil
		}
	}
	return false
}

// buildTag names the image of a build directory by the digest of every
// file in it, so an unchanged directory is not built again.
func buildTag(name, dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		sum, err := config.FileDigest(context.Background(), path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %s\n", filepath.ToSlash(rel), sum)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("reading the build directory: %w", err)
	}
	return ImagePrefix + "-" + sanitize(name) + ":" + hex.EncodeToString(h.Sum(nil))[:16], nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	return errors.Join(err, out.Close())
}

// RemoveImages removes every image whose repository starts with prefix
// (tests clean up what they built with it).
func RemoveImages(ctx context.Context, prefix string) error {
	cli, err := DockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	list, err := cli.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return err
	}
	var errs []error
	for _, img := range list.Items {
		for _, ref := range img.RepoTags {
			if strings.HasPrefix(ref, prefix+"-") {
				if _, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	demobankImage.Lock()
	if strings.HasPrefix(demobankImage.tag, prefix+"-") {
		demobankImage.tag = ""
	}
	demobankImage.Unlock()
	return nil
}
