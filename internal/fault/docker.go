package fault

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/hashicorp/hcl/v2"
	"github.com/moby/moby/client"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/target"
)

// dockerEngine injects faults into container targets through the Docker
// engine: Chaos Mesh's pod and network actions become kill, start, pause
// and network disconnection of the target's container.
type dockerEngine struct{}

func newDockerEngine() engine { return dockerEngine{} }

// dockerKind is the docker engine: it carries out the actions that have a
// dockerAction (actions.go) on containers that cloudtest starts.
var dockerKind = engineKind{
	name:    "docker",
	carries: func(a *action) bool { return a.docker != nil },
	checkTarget: func(s *Spec, t *config.Target, b *hcl.Block) hcl.Diagnostics {
		if t.Container != nil {
			return nil
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Target is not a container",
			Detail:   fmt.Sprintf("The docker engine acts on containers that cloudtest starts; target %q has no container block.", s.Target),
			Subject:  b.DefRange.Ptr(),
		}}
	},
	open: func(string, string) engine { return newDockerEngine() },
}

// Docker actions an Undo can name; each is safe to replay.
const (
	opDockerStart   = "start"
	opDockerUnpause = "unpause"
	opDockerConnect = "connect"
)

// dockerAction is how the docker engine carries out one action on the
// target's container: an action's docker field (actions.go).
type dockerAction struct {
	inject func(ctx context.Context, cli *client.Client, s *Spec, c *target.Container) ([]Undo, error)
	// removal is the Undo op that removes the fault, known before it is
	// applied ("" when nothing does).
	removal string
}

// dockerOf is how the docker engine carries out the fault's action, nil
// when it does not.
func dockerOf(s *Spec) *dockerAction {
	if a := actionNamed(s.Action); a != nil {
		return a.docker
	}
	return nil
}

func (dockerEngine) inject(ctx context.Context, s *Spec, t *target.Instance) ([]Undo, error) {
	if t == nil || t.Container == nil {
		name := s.Target
		if t != nil {
			name = t.Name
		}
		return nil, fmt.Errorf("fault %q: the docker engine acts on container targets; target %q is not one (give it a container block)", s.Name, name)
	}
	cli, err := target.DockerClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("fault %q: %w", s.Name, err)
	}
	defer cli.Close()
	a := dockerOf(s)
	if a == nil {
		return nil, fmt.Errorf("fault %q: the docker engine does not do %q; it does %s (use engine = \"local\" for other network faults, stress and http faults)",
			s.Name, s.Action, andList(dockerKind.actionNames()))
	}
	return a.inject(ctx, cli.Client, s, t.Container)
}

func dockerArgs(c *target.Container) map[string]string {
	return map[string]string{"container": c.ID, "name": c.Name, "network": c.NetworkID}
}

// dockerPodKill kills the container and starts it again at once, as
// Kubernetes replaces a killed pod; the probes measure how long it takes
// to serve.
func dockerPodKill(ctx context.Context, cli *client.Client, s *Spec, c *target.Container) ([]Undo, error) {
	if err := kill(ctx, cli, c.ID); err != nil {
		return nil, fmt.Errorf("fault %q: killing container %s: %w", s.Name, c.Name, err)
	}
	if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
		// The start is left for the removal (or recover) to try again.
		return []Undo{{Engine: "docker", Op: opDockerStart, Args: dockerArgs(c)}},
			fmt.Errorf("fault %q: starting container %s again after the kill: %w", s.Name, c.Name, err)
	}
	return nil, nil
}

func dockerContainerKill(ctx context.Context, cli *client.Client, s *Spec, c *target.Container) ([]Undo, error) {
	if err := kill(ctx, cli, c.ID); err != nil {
		return nil, fmt.Errorf("fault %q: killing container %s: %w", s.Name, c.Name, err)
	}
	// Docker does not apply a restart policy to a container it was asked
	// to kill, so the target's policy is carried out here.
	if c.Restart == "always" {
		if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
			return []Undo{{Engine: "docker", Op: opDockerStart, Args: dockerArgs(c)}},
				fmt.Errorf("fault %q: starting container %s again (restart = \"always\"): %w", s.Name, c.Name, err)
		}
	}
	return nil, nil
}

// dockerPause freezes the container for the duration: the pod stays but
// serves nothing, connections hang rather than being refused.
func dockerPause(ctx context.Context, cli *client.Client, s *Spec, c *target.Container) ([]Undo, error) {
	if _, err := cli.ContainerPause(ctx, c.ID, client.ContainerPauseOptions{}); err != nil {
		return nil, fmt.Errorf("fault %q: pausing container %s: %w", s.Name, c.Name, err)
	}
	return []Undo{{Engine: "docker", Op: opDockerUnpause, Args: dockerArgs(c)}}, nil
}

func dockerDisconnect(ctx context.Context, cli *client.Client, s *Spec, c *target.Container) ([]Undo, error) {
	if _, err := cli.NetworkDisconnect(ctx, c.NetworkID, client.NetworkDisconnectOptions{Container: c.ID, Force: true}); err != nil {
		return nil, fmt.Errorf("fault %q: disconnecting container %s from network %s: %w", s.Name, c.Name, c.Network, err)
	}
	return []Undo{{Engine: "docker", Op: opDockerConnect, Args: dockerArgs(c)}}, nil
}

func kill(ctx context.Context, cli *client.Client, id string) error {
	_, err := cli.ContainerKill(ctx, id, client.ContainerKillOptions{Signal: "KILL"})
	return err
}

func (dockerEngine) undo(ctx context.Context, u Undo) error {
	id := u.Args["container"]
	if id == "" {
		return fmt.Errorf("docker %s: the journal names no container", u.Op)
	}
	cli, err := target.DockerClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	info, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil // the container is gone: nothing is left to undo
	}
	if err != nil {
		return fmt.Errorf("docker %s: inspecting container %s: %w", u.Op, id, err)
	}
	state := info.Container.State
	switch u.Op {
	case opDockerUnpause:
		if state == nil || !state.Paused {
			return nil
		}
		if _, err := cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil && !cerrdefs.IsConflict(err) {
			return fmt.Errorf("unpausing container %s: %w", id, err)
		}
		return nil
	case opDockerStart:
		if state != nil && state.Running {
			return nil
		}
		if _, err := cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("starting container %s: %w", id, err)
		}
		return nil
	case opDockerConnect:
		nw := u.Args["network"]
		if nw == "" {
			return errors.New("docker connect: the journal names no network")
		}
		if info.Container.NetworkSettings != nil {
			for _, ep := range info.Container.NetworkSettings.Networks {
				if ep != nil && ep.NetworkID == nw {
					return nil
				}
			}
		}
		_, err := cli.NetworkConnect(ctx, nw, client.NetworkConnectOptions{Container: id})
		if cerrdefs.IsNotFound(err) {
			return nil // the network is gone with its target
		}
		if err != nil {
			return fmt.Errorf("connecting container %s to network %s: %w", id, nw, err)
		}
		return nil
	}
	return fmt.Errorf("docker: unknown removal %q", u.Op)
}

// plan is what removes a fault on a container, known before it is applied.
func (dockerEngine) plan(s *Spec, t *target.Instance) []Undo {
	if t == nil || t.Container == nil {
		return nil
	}
	if a := dockerOf(s); a != nil && a.removal != "" {
		return []Undo{{Engine: "docker", Op: a.removal, Args: dockerArgs(t.Container)}}
	}
	return nil
}
