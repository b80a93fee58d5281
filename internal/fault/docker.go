package fault

import (
	"context"
	"errors"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/cloudtest/cloudtest/internal/target"
)

// dockerEngine injects faults into container targets through the Docker
// engine: Chaos Mesh's pod and network actions become kill, start, pause
// and network disconnection of the target's container.
type dockerEngine struct{}

func newDockerEngine() engine { return dockerEngine{} }

// Docker actions an Undo can name; each is safe to replay.
const (
	opDockerStart   = "start"
	opDockerUnpause = "unpause"
	opDockerConnect = "connect"
)

func (dockerEngine) inject(ctx context.Context, s *Spec, t *target.Instance) ([]Undo, error) {
	if t == nil || t.Container == nil {
		name := s.Target
		if t != nil {
			name = t.Name
		}
		return nil, fmt.Errorf("fault %q: the docker engine acts on container targets; target %q is not one (give it a container block)", s.Name, name)
	}
	c := t.Container
	cli, err := target.DockerClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("fault %q: %w", s.Name, err)
	}
	defer cli.Close()
	args := map[string]string{"container": c.ID, "name": c.Name, "network": c.NetworkID}
	switch s.Action {
	case "pod-kill":
		// Kubernetes replaces a killed pod: the container is started again
		// at once, and the probes measure how long it takes to serve.
		if err := kill(ctx, cli.Client, c.ID); err != nil {
			return nil, fmt.Errorf("fault %q: killing container %s: %w", s.Name, c.Name, err)
		}
		if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
			// The start is left for the removal (or recover) to try again.
			return []Undo{{Engine: "docker", Op: opDockerStart, Args: args}},
				fmt.Errorf("fault %q: starting container %s again after the kill: %w", s.Name, c.Name, err)
		}
		return nil, nil
	case "container-kill":
		if err := kill(ctx, cli.Client, c.ID); err != nil {
			return nil, fmt.Errorf("fault %q: killing container %s: %w", s.Name, c.Name, err)
		}
		// Docker does not apply a restart policy to a container it was asked
		// to kill, so the target's policy is carried out here.
		if c.Restart == "always" {
			if _, err := cli.ContainerStart(ctx, c.ID, client.ContainerStartOptions{}); err != nil {
				return []Undo{{Engine: "docker", Op: opDockerStart, Args: args}},
					fmt.Errorf("fault %q: starting container %s again (restart = \"always\"): %w", s.Name, c.Name, err)
			}
		}
		return nil, nil
	case "pod-failure":
		// The pod stays but serves nothing for the duration: its processes
		// are frozen, connections hang rather than being refused.
		if _, err := cli.ContainerPause(ctx, c.ID, client.ContainerPauseOptions{}); err != nil {
			return nil, fmt.Errorf("fault %q: pausing container %s: %w", s.Name, c.Name, err)
		}
		return []Undo{{Engine: "docker", Op: opDockerUnpause, Args: args}}, nil
	case "partition":
		if _, err := cli.NetworkDisconnect(ctx, c.NetworkID, client.NetworkDisconnectOptions{Container: c.ID, Force: true}); err != nil {
			return nil, fmt.Errorf("fault %q: disconnecting container %s from network %s: %w", s.Name, c.Name, c.Network, err)
		}
		return []Undo{{Engine: "docker", Op: opDockerConnect, Args: args}}, nil
	}
	return nil, fmt.Errorf("fault %q: the docker engine does not do %q; it does pod-kill, container-kill, pod-failure and partition (use engine = \"local\" for other network faults, stress and http faults)", s.Name, s.Action)
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
	c := t.Container
	args := map[string]string{"container": c.ID, "name": c.Name, "network": c.NetworkID}
	switch s.Action {
	case "pod-kill":
		return []Undo{{Engine: "docker", Op: opDockerStart, Args: args}}
	case "pod-failure":
		return []Undo{{Engine: "docker", Op: opDockerUnpause, Args: args}}
	case "partition":
		return []Undo{{Engine: "docker", Op: opDockerConnect, Args: args}}
	}
	return nil
}
