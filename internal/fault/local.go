package fault

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/docker/go-units"
	"github.com/hashicorp/hcl/v2"
	"github.com/rs/zerolog"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/target"
)

// localEngine carries out faults on this machine: network faults through
// toxiproxy proxies running inside cloudtest, process faults through
// signals to the processes cloudtest supervises, and CPU and memory stress
// by cloudtest itself. Proxies and stress live in this process, so a crash
// takes them away with it: recover then has only stopped processes to
// continue.
type localEngine struct {
	server *toxiproxy.ApiServer

	mu      sync.Mutex
	proxies map[string]*localProxy // by proxy name
	stress  map[string]context.CancelFunc
	wg      sync.WaitGroup
}

type localProxy struct {
	p *toxiproxy.Proxy
	// base is the URL through which a target is reached via the proxy
	// (empty for a proxy in front of an upstream dependency).
	base string
	// partitions counts the partition faults holding the proxy down.
	partitions int
}

var quietToxiproxy sync.Once

func newLocalEngine() *localEngine {
	// Toxiproxy's bandwidth toxic logs through zerolog's global logger at
	// trace level; cloudtest's output is not the place for that.
	quietToxiproxy.Do(func() { zerolog.SetGlobalLevel(zerolog.Disabled) })
	return &localEngine{
		server:  toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		proxies: map[string]*localProxy{},
		stress:  map[string]context.CancelFunc{},
	}
}

// localKind is the local engine, the default: it carries out the actions
// that have a localAction (actions.go).
var localKind = engineKind{
	name:        "local",
	carries:     func(a *action) bool { return a.local != nil },
	checkTarget: localCheckTarget,
	checkAttrs:  localCheckAttrs,
	open:        func(string, string) engine { return newLocalEngine() },
}

// localAction is how the local engine carries out one action (an action's
// local field, actions.go): on a supervised process, on the proxy in front
// of a target or an upstream, or in cloudtest's own process.
type localAction struct {
	// process: the action acts on a process that cloudtest supervises.
	process bool
	// inject carries out an action that needs no proxy.
	inject func(e *localEngine, s *Spec, t *target.Instance) ([]Undo, error)
	// onProxy carries out a network action on the proxy named name; the
	// engine's lock is held.
	onProxy func(s *Spec, name string, lp *localProxy) ([]Undo, error)
	// plan is what removes the fault, known before it is applied.
	plan func(s *Spec, t *target.Instance) []Undo
	// removals are the action's own Undo ops (beside the engine's
	// sigcont, remove-toxic, end-partition and stop-stress), by name;
	// each must succeed when the effect is already gone.
	removals map[string]func(ctx context.Context, e *localEngine, u Undo) error
}

// localOf is how the local engine carries out the fault's action (the zero
// localAction when it does not).
func localOf(s *Spec) localAction {
	if a := actionNamed(s.Action); a != nil && a.local != nil {
		return *a.local
	}
	return localAction{}
}

// localCheckTarget refuses process faults on targets that are not
// processes cloudtest supervises.
func localCheckTarget(s *Spec, t *config.Target, b *hcl.Block) hcl.Diagnostics {
	if !localOf(s).process || t.Process != nil {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Target is not a supervised process",
		Detail:   fmt.Sprintf("Action %q on the local engine acts on a process that cloudtest starts; target %q has no process block.", s.Action, s.Target),
		Subject:  b.DefRange.Ptr(),
	}}
}

// localCheckAttrs refuses what a TCP proxy cannot do: choose requests, or
// correlate one connection's fate with the last's.
func localCheckAttrs(s *Spec, attrs hcl.Attributes) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if s.Action == "abort" || s.Action == "http-delay" {
		for _, name := range []string{"path", "method", "code"} {
			if a, ok := attrs[name]; ok {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Attribute not available on this engine",
					Detail:  fmt.Sprintf("The local engine acts on whole TCP connections and cannot choose requests by %s; remove %q or run the fault on Kubernetes.", name, name),
					Subject: a.NameRange.Ptr()})
			}
		}
	}
	if c, ok := attrs["correlation"]; ok {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Correlation is not applied locally",
			Detail:  "The local engine (toxiproxy) decides each connection independently; correlation is kept in the Chaos Mesh YAML only.",
			Subject: c.NameRange.Ptr()})
	}
	return diags
}

// proxyName is the proxy a network fault goes through: the one in front of
// its upstream dependency, or the one in front of its target.
func proxyName(s *Spec) string {
	if s.Upstream != "" {
		return "upstream " + s.Listen
	}
	return "target " + s.Target
}

// prepare starts the proxy of a network fault, once per target or upstream.
func (e *localEngine) prepare(s *Spec, t *target.Instance) error {
	if localOf(s).onProxy == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	name := proxyName(s)
	if _, ok := e.proxies[name]; ok {
		return nil
	}
	lp := &localProxy{}
	listen, upstream := s.Listen, s.Upstream
	var u *url.URL
	if s.Upstream == "" {
		if t == nil || t.URL == "" {
			return fmt.Errorf("fault %q: target %q has no address to put a proxy in front of", s.Name, s.Target)
		}
		var err error
		if u, err = url.Parse(t.URL); err != nil {
			return fmt.Errorf("fault %q: target URL %q: %w", s.Name, t.URL, err)
		}
		upstream = u.Host
		if u.Port() == "" {
			port := "80"
			if u.Scheme == "https" {
				port = "443"
			}
			upstream = net.JoinHostPort(u.Hostname(), port)
		}
		listen = "127.0.0.1:0"
	}
	lp.p = toxiproxy.NewProxy(e.server, name, listen, upstream)
	if err := e.server.Collection.Add(lp.p, true); err != nil {
		return fmt.Errorf("fault %q: starting a proxy on %s in front of %s: %w", s.Name, listen, upstream, err)
	}
	if u != nil {
		pu := *u
		pu.Host = lp.p.Listen // the port the proxy got
		lp.base = strings.TrimRight(pu.String(), "/")
	}
	e.proxies[name] = lp
	return nil
}

// url is the base URL of a target through its proxy, "" when it has none.
func (e *localEngine) url(targetName string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if lp, ok := e.proxies["target "+targetName]; ok {
		return lp.base
	}
	return ""
}

func (e *localEngine) inject(ctx context.Context, s *Spec, t *target.Instance) ([]Undo, error) {
	a := localOf(s)
	if a.inject == nil && a.onProxy == nil {
		return nil, fmt.Errorf("the local engine cannot carry out action %q", s.Action)
	}
	if a.onProxy != nil {
		e.mu.Lock()
		defer e.mu.Unlock()
		name := proxyName(s)
		lp, ok := e.proxies[name]
		if !ok {
			return nil, fmt.Errorf("fault %q: no proxy was prepared for it (was it passed to fault.Open?)", s.Name)
		}
		return a.onProxy(s, name, lp)
	}
	return a.inject(e, s, t)
}

func supervised(s *Spec, t *target.Instance) (*target.Supervisor, error) {
	if t == nil || t.Process == nil {
		return nil, fmt.Errorf("fault %q: target %q is not a process cloudtest supervises", s.Name, s.Target)
	}
	return t.Process, nil
}

// podKillProcess kills the process; the supervisor restarts it when its
// policy is "always".
func podKillProcess(_ *localEngine, s *Spec, t *target.Instance) ([]Undo, error) {
	sup, err := supervised(s, t)
	if err != nil {
		return nil, err
	}
	return nil, sup.Signal(syscall.SIGKILL)
}

// killProcess kills the process for good: the supervisor does not restart it.
func killProcess(_ *localEngine, s *Spec, t *target.Instance) ([]Undo, error) {
	sup, err := supervised(s, t)
	if err != nil {
		return nil, err
	}
	return nil, sup.Kill()
}

// freezeProcess stops the process group until the removal continues it.
func freezeProcess(_ *localEngine, s *Spec, t *target.Instance) ([]Undo, error) {
	sup, err := supervised(s, t)
	if err != nil {
		return nil, err
	}
	pid := sup.Pid()
	if pid == 0 {
		return nil, errors.New("the process is not running")
	}
	undo := sigcont(pid)
	if err := syscall.Kill(-pid, syscall.SIGSTOP); err != nil {
		return nil, fmt.Errorf("stopping process group %d: %w", pid, err)
	}
	return undo, nil
}

// signalProcess sends the fault's signal to the process group; what
// follows (an exit and a restart by the supervisor, a graceful shutdown, a
// reload) is the process's own doing.
func signalProcess(_ *localEngine, s *Spec, t *target.Instance) ([]Undo, error) {
	sup, err := supervised(s, t)
	if err != nil {
		return nil, err
	}
	pm := s.Object.(*v1alpha1.PhysicalMachineChaos)
	return nil, sup.Signal(syscall.Signal(pm.Spec.Process.Signal))
}

// streams maps Chaos Mesh's direction onto toxiproxy's streams. The proxy
// stands in front of the target, so "to" (traffic the target sends) is
// downstream and "from" (traffic to the target) upstream.
func streams(d v1alpha1.Direction) []string {
	switch d {
	case v1alpha1.From:
		return []string{"upstream"}
	case v1alpha1.Both:
		return []string{"upstream", "downstream"}
	}
	return []string{"downstream"}
}

type toxic struct {
	Name       string  `json:"name"`
	Type       string  `json:"type"`
	Stream     string  `json:"stream"`
	Toxicity   float32 `json:"toxicity"`
	Attributes any     `json:"attributes"`
}

// partition stops the proxy: it refuses new connections and cuts the open
// ones, until the last partition on it ends.
func partition(_ *Spec, name string, lp *localProxy) ([]Undo, error) {
	lp.partitions++
	if lp.partitions == 1 {
		lp.p.Stop()
	}
	return []Undo{{Engine: "local", Op: "end-partition", Args: map[string]string{"proxy": name}}}, nil
}

// withToxics carries out a network action as the toxics that make it.
func withToxics(toxicsOf func(s *Spec) ([]toxic, error)) func(*Spec, string, *localProxy) ([]Undo, error) {
	return func(s *Spec, name string, lp *localProxy) ([]Undo, error) {
		toxics, err := toxicsOf(s)
		if err != nil {
			return nil, err
		}
		var undo []Undo
		for i := range toxics {
			toxics[i].Name = s.Name + " " + toxics[i].Stream
			if err := addToxic(lp.p, toxics[i]); err != nil {
				return undo, fmt.Errorf("fault %q: adding a %s toxic: %w", s.Name, toxics[i].Type, err)
			}
			undo = append(undo, Undo{Engine: "local", Op: "remove-toxic", Args: map[string]string{"proxy": name, "toxic": toxics[i].Name}})
		}
		return undo, nil
	}
}

// perStream makes one toxic of a type for each stream of the direction.
func perStream(d v1alpha1.Direction, typ string, toxicity float32, attrs map[string]int64) []toxic {
	var toxics []toxic
	for _, st := range streams(d) {
		toxics = append(toxics, toxic{Type: typ, Stream: st, Toxicity: toxicity, Attributes: attrs})
	}
	return toxics
}

func delayToxics(s *Spec) ([]toxic, error) {
	d := s.Object.(*v1alpha1.NetworkChaos).Spec
	latency, _ := time.ParseDuration(d.Delay.Latency)
	jitter, _ := time.ParseDuration(d.Delay.Jitter)
	return perStream(d.Direction, "latency", 1, map[string]int64{"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()}), nil
}

// lossToxics: TCP hides lost packets behind retransmission; what a client
// sees is a connection that stalls. The timeout toxic drops the data of
// that share of connections and closes them after a while.
func lossToxics(s *Spec) ([]toxic, error) {
	d := s.Object.(*v1alpha1.NetworkChaos).Spec
	pct, _ := strconv.ParseFloat(d.Loss.Loss, 64)
	return perStream(d.Direction, "timeout", float32(pct/100), map[string]int64{"timeout": 5000}), nil
}

func bandwidthToxics(s *Spec) ([]toxic, error) {
	d := s.Object.(*v1alpha1.NetworkChaos).Spec
	kbps, err := rateKBps(d.Bandwidth.Rate)
	if err != nil {
		return nil, err
	}
	return perStream(d.Direction, "bandwidth", 1, map[string]int64{"rate": kbps}), nil
}

func abortToxics(*Spec) ([]toxic, error) {
	return []toxic{{Type: "reset_peer", Stream: "upstream", Toxicity: 1, Attributes: map[string]int64{"timeout": 0}}}, nil
}

func httpDelayToxics(s *Spec) ([]toxic, error) {
	h := s.Object.(*v1alpha1.HTTPChaos).Spec
	delay, _ := time.ParseDuration(*h.Delay)
	return []toxic{{Type: "latency", Stream: "upstream", Toxicity: 1, Attributes: map[string]int64{"latency": delay.Milliseconds()}}}, nil
}

func addToxic(p *toxiproxy.Proxy, t toxic) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = p.Toxics.AddToxicJson(strings.NewReader(string(b)))
	return err
}

// rateKBps turns a tc rate (kbit, mbit, gbit, tbit, bit: bits per second;
// bps, kbps, mbps, gbps, tbps: bytes per second) into toxiproxy's KB/s.
func rateKBps(rate string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(rate))
	units := []struct {
		suffix string
		bytes  float64
	}{
		{"tbps", 1e12}, {"gbps", 1e9}, {"mbps", 1e6}, {"kbps", 1e3}, {"bps", 1},
		{"tbit", 1e12 / 8}, {"gbit", 1e9 / 8}, {"mbit", 1e6 / 8}, {"kbit", 1e3 / 8}, {"bit", 1.0 / 8},
	}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			n, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("rate %q: %w", rate, err)
			}
			switch kb := float64(n) * u.bytes / 1000; {
			case kb >= math.MaxInt64:
				return math.MaxInt64, nil // past what int64 holds (converting would give a negative rate)
			case kb < 1:
				return 1, nil // toxiproxy's smallest rate
			default:
				return int64(kb), nil
			}
		}
	}
	return 0, fmt.Errorf("rate %q has no unit such as mbit or kbps", rate)
}

// injectStress burns CPU or holds memory in cloudtest's own process until
// the fault is removed or its duration ends, whichever comes first.
func injectStress(e *localEngine, s *Spec, _ *target.Instance) ([]Undo, error) {
	sc := s.Object.(*v1alpha1.StressChaos).Spec
	ctx, cancel := context.WithCancel(context.Background())
	if s.Duration > 0 {
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), s.Duration)
	}
	id := fmt.Sprintf("%s %d", s.Name, time.Now().UnixNano())
	switch {
	case sc.Stressors.CPUStressor != nil:
		cs := sc.Stressors.CPUStressor
		load := 100
		if cs.Load != nil {
			load = *cs.Load
		}
		for i := 0; i < cs.Workers; i++ {
			e.wg.Add(1)
			go func() { defer e.wg.Done(); burn(ctx, load) }()
		}
	case sc.Stressors.MemoryStressor != nil:
		ms := sc.Stressors.MemoryStressor
		size, err := memorySize(ms.Size)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("fault %q: %w", s.Name, err)
		}
		// size × workers could overflow: divide the bound instead.
		if avail := memAvailable(); avail > 0 && size > avail*8/10/int64(max(ms.Workers, 1)) {
			cancel()
			return nil, fmt.Errorf("fault %q: %d workers of %s is more than 80%% of the memory available (%s)",
				s.Name, ms.Workers, units.BytesSize(float64(size)), units.BytesSize(float64(avail)))
		}
		for i := 0; i < ms.Workers; i++ {
			e.wg.Add(1)
			go func() { defer e.wg.Done(); hold(ctx, size) }()
		}
	default:
		cancel()
		return nil, fmt.Errorf("fault %q has no stressor", s.Name)
	}
	e.mu.Lock()
	e.stress[id] = cancel
	e.mu.Unlock()
	return []Undo{{Engine: "local", Op: "stop-stress", Args: map[string]string{"id": id}}}, nil
}

// burn keeps one core busy load percent of every 100ms until ctx ends.
func burn(ctx context.Context, load int) {
	const slice = 100 * time.Millisecond
	busy := slice * time.Duration(load) / 100
	x := 1.0
	for ctx.Err() == nil {
		start := time.Now()
		for time.Since(start) < busy {
			for i := 0; i < 1000; i++ {
				x = x*1.0000001 + 1e-9
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(slice - busy):
		}
	}
	runtime.KeepAlive(x)
}

// hold allocates size bytes, touches every page so that they are resident,
// and frees them when ctx ends.
func hold(ctx context.Context, size int64) {
	b := make([]byte, size)
	for i := int64(0); i < size; i += 4096 {
		b[i] = 1
	}
	<-ctx.Done()
	runtime.KeepAlive(b)
	b = nil
	debug.FreeOSMemory()
}

// memorySize reads a stress size: "256MB", "1GB" or a percentage of the
// machine's memory ("10%"); Chaos Mesh's default is 256MB.
func memorySize(size string) (int64, error) {
	if size == "" {
		return 256 << 20, nil
	}
	if strings.HasSuffix(size, "%") {
		pct, err := strconv.Atoi(strings.TrimSuffix(size, "%"))
		if err != nil {
			return 0, err
		}
		if pct < 0 || pct > 100 { // Chaos Mesh's validation refuses them too
			return 0, fmt.Errorf("size %q: a percentage of the machine's memory is from 0%% to 100%%", size)
		}
		total := memInfo("MemTotal:")
		if total == 0 {
			return 0, errors.New("cannot read the machine's memory size for a percentage")
		}
		return total * int64(pct) / 100, nil
	}
	n, err := units.FromHumanSize(size)
	if err == nil && n < 0 { // past what int64 holds: units wraps around
		return 0, fmt.Errorf("size %q is more memory than a machine has", size)
	}
	return n, err
}

func memAvailable() int64 { return memInfo("MemAvailable:") }

// memInfo reads a /proc/meminfo field in bytes (0 when unknown).
func memInfo(field string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) >= 2 && parts[0] == field {
			kb, _ := strconv.ParseInt(parts[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func (e *localEngine) undo(ctx context.Context, u Undo) error {
	switch u.Op {
	case "sigcont":
		pgid, err := strconv.Atoi(u.Args["pgid"])
		if err != nil || pgid <= 1 {
			return fmt.Errorf("sigcont: bad process group %q", u.Args["pgid"])
		}
		if err := syscall.Kill(-pgid, syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("continuing process group %d: %w", pgid, err)
		}
		return nil
	case "remove-toxic", "end-partition":
		e.mu.Lock()
		defer e.mu.Unlock()
		lp, ok := e.proxies[u.Args["proxy"]]
		if !ok {
			// The proxy lived in the process that started it; with that
			// process gone, so is the fault.
			return nil
		}
		if u.Op == "end-partition" {
			if lp.partitions > 0 {
				lp.partitions--
			}
			if lp.partitions > 0 {
				return nil
			}
			if err := lp.p.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
				return fmt.Errorf("starting proxy %s again: %w", lp.p.Name, err)
			}
			return nil
		}
		err := lp.p.Toxics.RemoveToxic(zerolog.Nop().WithContext(ctx), u.Args["toxic"])
		if errors.Is(err, toxiproxy.ErrToxicNotFound) {
			return nil
		}
		return err
	case "stop-stress":
		e.mu.Lock()
		cancel, ok := e.stress[u.Args["id"]]
		delete(e.stress, u.Args["id"])
		e.mu.Unlock()
		if ok {
			cancel()
		}
		return nil
	}
	for _, a := range actions {
		if a.local != nil && a.local.removals[u.Op] != nil {
			return a.local.removals[u.Op](ctx, e, u)
		}
	}
	return fmt.Errorf("the local engine has no removal %q", u.Op)
}

// close stops the proxies and any stress left running.
func (e *localEngine) close() {
	e.mu.Lock()
	for id, cancel := range e.stress {
		cancel()
		delete(e.stress, id)
	}
	e.mu.Unlock()
	e.server.Collection.Clear()
	e.wg.Wait()
}

func sigcont(pgid int) []Undo {
	return []Undo{{Engine: "local", Op: "sigcont", Args: map[string]string{"pgid": strconv.Itoa(pgid)}}}
}

func (e *localEngine) plan(s *Spec, t *target.Instance) []Undo {
	if p := localOf(s).plan; p != nil {
		return p(s, t)
	}
	return nil
}

// planFreeze is what removes a process freeze, known before the SIGSTOP.
func planFreeze(_ *Spec, t *target.Instance) []Undo {
	if t == nil || t.Process == nil {
		return nil
	}
	if pid := t.Process.Pid(); pid != 0 {
		return sigcont(pid)
	}
	return nil
}
