package performance

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"github.com/cloudtest/cloudtest/internal/target"
)

// containerSampler reads a container target's CPU and memory from the
// Docker stats API, one sample a call (one-shot, without the second of
// waiting a streamed sample costs).
func containerSampler(inst *target.Instance) (*sampler, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cli, err := target.DockerClient(ctx)
	if err != nil {
		return nil, fmt.Sprintf("the Docker engine does not answer: %v", err)
	}
	id := inst.Container.ID
	return &sampler{
		source: fmt.Sprintf("Docker stats of container %s of target %q", inst.Container.Name, inst.Name),
		read: func() (float64, int64, string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			return readContainerStats(ctx, cli.Client, id)
		},
		close: func() { cli.Close() },
	}, ""
}

// readContainerStats returns the CPU seconds the container used since it
// started, its memory in use as `docker stats` counts it (without the page
// cache it could drop), and its start time, which changes on a restart.
func readContainerStats(ctx context.Context, cli *client.Client, id string) (float64, int64, string, error) {
	res, err := cli.ContainerStats(ctx, id, client.ContainerStatsOptions{})
	if err != nil {
		return 0, 0, "", err
	}
	defer res.Body.Close()
	var st container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		return 0, 0, "", err
	}
	if st.CPUStats.CPUUsage.TotalUsage == 0 {
		return 0, 0, "", fmt.Errorf("container %s is not running", id)
	}
	mem := st.MemoryStats.Usage
	// cgroup v2 names it inactive_file, v1 total_inactive_file.
	for _, k := range []string{"inactive_file", "total_inactive_file"} {
		if v, ok := st.MemoryStats.Stats[k]; ok && v < mem {
			mem -= v
			break
		}
	}
	info, err := cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return 0, 0, "", err
	}
	started := ""
	if info.Container.State != nil {
		started = info.Container.State.StartedAt
	}
	return float64(st.CPUStats.CPUUsage.TotalUsage) / 1e9, int64(mem), started, nil
}
