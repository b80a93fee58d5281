package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/target"
	"github.com/cloudtest/cloudtest/internal/testdb"
)

// needDocker connects to the Docker engine (failing in CI without one) and
// gives the demo bank image a name of this test's own, removed at the end.
func needDocker(t *testing.T) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := target.DockerClient(ctx)
	if err == nil {
		_, err = cli.Ping(ctx, client.PingOptions{})
	}
	if err != nil {
		testdb.Unavailable(t, fmt.Sprintf("no Docker engine: %v", err))
	}
	t.Cleanup(func() { cli.Close() })
	target.ImagePrefix = fmt.Sprintf("cloudtest-test-fault-%d", os.Getpid())
	t.Cleanup(func() {
		if err := target.RemoveImages(context.Background(), target.ImagePrefix); err != nil {
			t.Error(err)
		}
	})
	return cli.Client
}

// startBank starts the demo bank image as a container target, removed when
// t ends.
func startBank(t *testing.T, opts config.EmbeddedOptions) *target.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := t.TempDir()
	inst, err := target.Start(ctx, &config.Target{Name: "bank", Container: &config.Container{
		Embedded: "demobank", Ports: []string{"8080"}, Wait: "/healthz", WaitTimeout: time.Minute, Restart: "never",
	}, EmbeddedOptions: opts}, target.Options{BaseDir: work, WorkDir: work})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := inst.Stop(); err != nil {
			t.Error(err)
		}
	})
	return inst
}

// bankCall sends one request with alice's token and returns the status and
// the decoded JSON answer.
func bankCall(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func login(t *testing.T, url string) string {
	t.Helper()
	code, out := bankCall(t, "POST", url+"/api/login", "", `{"user":"alice","password":"wonderland"}`)
	tok, _ := out["token"].(string)
	if code != 200 || tok == "" {
		t.Fatalf("login answered %d %v", code, out)
	}
	return tok
}

// answers reports whether the bank answers its health check within a second.
func answers(url string) bool {
	c := &http.Client{Timeout: time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// eventually polls cond every 100ms for at most 20s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 20s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func state(t *testing.T, cli *client.Client, id string) *struct{ Running, Paused bool } {
	t.Helper()
	info, err := cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &struct{ Running, Paused bool }{info.Container.State.Running, info.Container.State.Paused}
}

func TestDockerEngineFaultsOnTheDemoBankContainer(t *testing.T) {
	cli := needDocker(t)
	inst := startBank(t, config.EmbeddedOptions{})
	ctx := context.Background()
	e := newDockerEngine()
	id := inst.Container.ID
	if !answers(inst.URL) {
		t.Fatal("the bank does not answer before any fault")
	}

	t.Run("pod-kill keeps a durable bank's writes and loses a write-behind bank's", func(t *testing.T) {
		behind := startBank(t, config.EmbeddedOptions{WriteBehind: time.Minute})
		ids := map[*target.Instance]string{}
		for _, b := range []*target.Instance{inst, behind} {
			code, out := bankCall(t, "POST", b.URL+"/api/ledger", login(t, b.URL), `{"amount": 1}`)
			if code != 201 {
				t.Fatalf("ledger write answered %d %v", code, out)
			}
			ids[b], _ = out["id"].(string)
		}
		for _, b := range []*target.Instance{inst, behind} {
			if _, err := e.inject(ctx, &Spec{Name: "kill", Action: "pod-kill", Engine: "docker"}, b); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the bank answers after pod-kill", func() bool { return answers(b.URL) })
		}
		if code, out := bankCall(t, "GET", inst.URL+"/api/ledger/"+ids[inst], login(t, inst.URL), ""); code != 200 {
			t.Errorf("the durable bank lost an acknowledged write: %d %v", code, out)
		}
		if code, _ := bankCall(t, "GET", behind.URL+"/api/ledger/"+ids[behind], login(t, behind.URL), ""); code != 404 {
			t.Errorf("the write-behind bank kept a write it had not flushed: %d", code)
		}
	})

	t.Run("pod-failure pauses until undone, and undo is idempotent", func(t *testing.T) {
		undos, err := e.inject(ctx, &Spec{Name: "freeze", Action: "pod-failure", Engine: "docker"}, inst)
		if err != nil {
			t.Fatal(err)
		}
		if len(undos) != 1 || undos[0].Op != "unpause" || undos[0].Args["container"] != id {
			t.Fatalf("undos = %+v", undos)
		}
		if s := state(t, cli, id); !s.Paused {
			t.Fatalf("state after pod-failure: %+v", s)
		}
		if answers(inst.URL) {
			t.Fatal("a paused bank answered")
		}
		for range 2 {
			if err := e.undo(ctx, undos[0]); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "the bank answers after unpause", func() bool { return answers(inst.URL) })
	})

	t.Run("partition disconnects from the network until undone", func(t *testing.T) {
		undos, err := e.inject(ctx, &Spec{Name: "cut", Action: "partition", Engine: "docker"}, inst)
		if err != nil {
			t.Fatal(err)
		}
		if len(undos) != 1 || undos[0].Op != "connect" || undos[0].Args["network"] != inst.Container.NetworkID {
			t.Fatalf("undos = %+v", undos)
		}
		eventually(t, "the partitioned bank stops answering", func() bool { return !answers(inst.URL) })
		for range 2 {
			if err := e.undo(ctx, undos[0]); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "the bank answers after reconnection", func() bool { return answers(inst.URL) })
	})

	t.Run("pod-kill kills and starts again on the same URL", func(t *testing.T) {
		before, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		undos, err := e.inject(ctx, &Spec{Name: "kill", Action: "pod-kill", Engine: "docker"}, inst)
		if err != nil || len(undos) != 0 {
			t.Fatalf("undos %+v, err %v", undos, err)
		}
		after, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.Container.State.StartedAt == before.Container.State.StartedAt {
			t.Fatal("the container was not started again")
		}
		eventually(t, "the bank answers after pod-kill", func() bool { return answers(inst.URL) })
	})

	t.Run("container-kill starts again only with restart always", func(t *testing.T) {
		inst.Container.Restart = "always"
		if _, err := e.inject(ctx, &Spec{Name: "kill", Action: "container-kill", Engine: "docker"}, inst); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the bank answers after container-kill with restart always", func() bool { return answers(inst.URL) })

		inst.Container.Restart = "never"
		undos, err := e.inject(ctx, &Spec{Name: "kill", Action: "container-kill", Engine: "docker"}, inst)
		if err != nil || len(undos) != 0 {
			t.Fatalf("undos %+v, err %v", undos, err)
		}
		if s := state(t, cli, id); s.Running {
			t.Fatal("the container runs after container-kill with restart never")
		}
		if answers(inst.URL) {
			t.Fatal("a killed bank answered")
		}
		// recover's start is what brings it back, and is idempotent.
		start := Undo{Engine: "docker", Op: "start", Args: map[string]string{"container": id}}
		for range 2 {
			if err := e.undo(ctx, start); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "the bank answers after start", func() bool { return answers(inst.URL) })
	})

	t.Run("faults the engine does not do are refused", func(t *testing.T) {
		_, err := e.inject(ctx, &Spec{Name: "slow", Action: "delay", Engine: "docker"}, inst)
		if err == nil || !strings.Contains(err.Error(), `does not do "delay"`) {
			t.Fatalf("err = %v", err)
		}
		_, err = e.inject(ctx, &Spec{Name: "x", Action: "pod-kill", Engine: "docker", Target: "web"}, &target.Instance{Name: "web", URL: "http://127.0.0.1:1"})
		if err == nil || !strings.Contains(err.Error(), "not one") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a removal replayed after the container is gone succeeds", func(t *testing.T) {
		undos, err := e.inject(ctx, &Spec{Name: "freeze", Action: "pod-failure", Engine: "docker"}, inst)
		if err != nil {
			t.Fatal(err)
		}
		// Stop removes a paused container too: nothing is left behind.
		if err := inst.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil {
			t.Fatal("the paused container survived Stop")
		}
		for _, op := range []string{"unpause", "start", "connect"} {
			u := undos[0]
			u.Op = op
			if err := e.undo(ctx, u); err != nil {
				t.Fatalf("%s: %v", op, err)
			}
		}
	})
}
