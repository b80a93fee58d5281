package target

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// loadImage loads a one-file image named ref into the Docker engine, made
// at created and labelled as given: "another job's" image. (docker load of
// a hand-made archive is the one way to give an image an old date.)
func loadImage(t *testing.T, cli *client.Client, ref string, created time.Time, labels map[string]string) {
	t.Helper()
	var layer bytes.Buffer
	lw := tar.NewWriter(&layer)
	lw.WriteHeader(&tar.Header{Name: "job", Mode: 0o644, Size: int64(len(ref))})
	io.WriteString(lw, ref)
	lw.Close()
	diff := sha256.Sum256(layer.Bytes())
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux", "created": created.UTC().Format(time.RFC3339),
		"config": map[string]any{"Labels": labels, "Cmd": []string{"/job"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diff[:])}},
	})
	cfgSum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(cfgSum[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{ref}, "Layers": []string{"layer.tar"}}})
	var archive bytes.Buffer
	aw := tar.NewWriter(&archive)
	for name, b := range map[string][]byte{"layer.tar": layer.Bytes(), cfgName: cfg, "manifest.json": manifest} {
		aw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))})
		aw.Write(b)
	}
	aw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := cli.ImageLoad(ctx, &archive, client.ImageLoadWithQuiet(true))
	if err != nil {
		t.Fatalf("loading %s: %v", ref, err)
	}
	out, _ := io.ReadAll(res)
	res.Close()
	if _, err := cli.ImageInspect(ctx, ref); err != nil {
		t.Fatalf("%s was not loaded: %v\n%s", ref, err, out)
	}
}

func imagePresent(cli *client.Client, ref string) bool {
	_, err := cli.ImageInspect(context.Background(), ref)
	return err == nil
}

// On a shared Docker engine, building this cloudtest's demo bank image
// must not remove the image another job is using (before: every other
// <prefix>-demobank image was removed). Only images cloudtest labelled and
// built more than a day ago go.
func TestBuildingTheDemobankImageKeepsAnotherJobsImage(t *testing.T) {
	cli := needDocker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	repo := ImagePrefix + "-demobank"
	ours := map[string]string{imageLabel: "demobank"}
	loadImage(t, cli, repo+":another-job", time.Now(), ours)
	loadImage(t, cli, repo+":stale", time.Now().Add(-3*24*time.Hour), ours)
	loadImage(t, cli, repo+":not-ours", time.Now().Add(-3*24*time.Hour), nil)

	// Make sure this binary's image is built now, so that the pruning runs.
	demobankImage.Lock()
	if demobankImage.tag != "" {
		cli.ImageRemove(ctx, demobankImage.tag, client.ImageRemoveOptions{})
	}
	demobankImage.tag = ""
	demobankImage.Unlock()
	tag, err := DemobankImage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !imagePresent(cli, tag) {
		t.Fatalf("the image built, %s, is not there", tag)
	}
	if !imagePresent(cli, repo+":another-job") {
		t.Error("building the demo bank image removed the image of another job built a moment ago")
	}
	if !imagePresent(cli, repo+":not-ours") {
		t.Error("building the demo bank image removed an image cloudtest did not label as its own")
	}
	if imagePresent(cli, repo+":stale") {
		t.Error("a demo bank image cloudtest built three days ago was kept")
	}

	// Someone removes the image under a running cloudtest: the next
	// container start builds it again instead of failing.
	if _, err := cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := DemobankImage(ctx)
	if err != nil || again != tag || !imagePresent(cli, tag) {
		t.Fatalf("after the image was removed: %q %v; want %s built again", again, err, tag)
	}
}
