package fault

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chaos-mesh/chaos-mesh/api/v1alpha1"
	"github.com/hashicorp/hcl/v2"
	"sigs.k8s.io/yaml"

	"github.com/cloudtest/cloudtest/internal/config"
)

// chaosSuite is a suite kind of these tests that holds fault blocks only,
// as the reliability suite does among its other blocks.
type chaosSuite struct {
	*config.SuiteCommon
	specs []*Spec
}

func (s *chaosSuite) FaultSpecs() []*Spec { return s.specs }

var chaosKind = config.SuiteKind{Type: "chaos", Decode: func(c *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (config.Suite, hcl.Diagnostics) {
	s := &chaosSuite{SuiteCommon: c}
	content, diags := body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{BlockSchema}})
	for _, b := range content.Blocks {
		spec, d := DecodeFor(b, dc, c.Target)
		diags = append(diags, d...)
		s.specs = append(s.specs, spec)
	}
	return s, diags
}}

const targets = `
target "web" { url = "http://127.0.0.1:1" }
target "svc" {
  process {
    command = ["./svc"]
    url     = "http://127.0.0.1:{port}"
  }
}
`

// load decodes src (after the targets above) and returns the specs of its
// one suite and the diagnostics.
func load(t *testing.T, src string) ([]*Spec, hcl.Diagnostics) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "faults.hcl"), []byte(targets+src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{chaosKind}})
	if cfg == nil || len(cfg.Suites) == 0 {
		return nil, diags
	}
	return cfg.Suites[0].(*chaosSuite).specs, diags
}

func TestAValidDelayBecomesADefaultedNetworkChaos(t *testing.T) {
	t.Parallel()
	specs, diags := load(t, `
chaos "slow" {
  target = target.web
  fault "lag" {
    action   = "delay"
    latency  = "100ms"
    after    = "2s"
    duration = "5s"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	s := specs[0]
	if s.Kind != "NetworkChaos" || s.Engine != "local" || s.Target != "web" || s.After.Seconds() != 2 || s.Duration.Seconds() != 5 {
		t.Fatalf("spec %+v", s)
	}
	nc := s.Object.(*v1alpha1.NetworkChaos)
	// Chaos Mesh's defaults: jitter 0ms, correlation 0, direction to.
	if nc.Spec.Delay.Jitter != "0ms" || nc.Spec.Delay.Correlation != "0" || nc.Spec.Direction != v1alpha1.To {
		t.Fatalf("defaults not applied: %+v direction %q", nc.Spec.Delay, nc.Spec.Direction)
	}
	if nc.Spec.Selector.LabelSelectors["app"] != "web" || nc.Spec.Selector.Namespaces[0] != "default" || *nc.Spec.Duration != "5s" {
		t.Fatalf("selector or duration: %+v", nc.Spec)
	}
}

func TestTheYAMLOfANetworkDelayRoundTrips(t *testing.T) {
	t.Parallel()
	specs, diags := load(t, `
chaos "slow" {
  target = target.web
  fault "Lag Spike" {
    action    = "delay"
    latency   = "250ms"
    jitter    = "20ms"
    duration  = "30s"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, err := specs[0].YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: chaos-mesh.org/v1alpha1", "kind: NetworkChaos", "name: lag-spike", "latency: 250ms"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("YAML lacks %q:\n%s", want, b)
		}
	}
	if strings.Contains(string(b), "status") || strings.Contains(string(b), "creationTimestamp") {
		t.Errorf("YAML carries server-side fields:\n%s", b)
	}
	var back v1alpha1.NetworkChaos
	if err := yaml.UnmarshalStrict(b, &back); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if back.Kind != "NetworkChaos" || back.Spec.Action != v1alpha1.DelayAction || back.Spec.Delay.Latency != "250ms" ||
		back.Spec.Delay.Jitter != "20ms" || *back.Spec.Duration != "30s" || back.Spec.Selector.LabelSelectors["app"] != "web" {
		t.Fatalf("round trip: %+v", back)
	}

	dir := t.TempDir()
	paths, err := WriteChaos(dir, "edge latency", specs)
	if err != nil || len(paths) != 1 || filepath.Base(paths[0]) != "edge-latency-lag-spike.yaml" {
		t.Fatalf("WriteChaos: %v %v", paths, err)
	}
}

func TestInvalidFaultsGiveDiagnosticsOnTheirLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		src  string
		line int
		want []string
	}{
		{"a latency that is no duration, in Chaos Mesh's words", `
    action  = "delay"
    latency = "1xx"`, 6, []string{"Chaos Mesh refuses the fault", "spec.delay.latency", "parse duration field error", `"latency"`}},
		{"a rate without unit, in Chaos Mesh's words", `
    action = "bandwidth"
    rate   = "10"
    limit  = 100
    buffer = 1000`, 6, []string{"spec.bandwidth.rate", "parse rate field error:invalid unit"}},
		{"a loss that is no number", `
    action = "loss"
    loss   = "a lot"`, 6, []string{"spec.loss.loss", "parse correlation field error"}},
		{"a loss over 100 percent", `
    action = "loss"
    loss   = 150`, 6, []string{`"loss" is a percentage and must be between 0 and 100; found 150`}},
		{"a memory size that is no size", `
    action = "memory"
    size   = "plenty"`, 6, []string{"spec.stressors.memory.size", "incorrect bytes format"}},
		{"direction both without another side", `
    action    = "delay"
    latency   = "10ms"
    direction = "both"`, 7, []string{"spec.direction", "`from` and `both` direction cannot be used when targets is empty"}},
		{"a delay without latency", `
    action = "delay"`, 4, []string{`Missing required attribute`, `needs the attribute "latency"`}},
		{"an unknown action", `
    action = "meteor"`, 5, []string{`must be one of "pod-kill"`, `found "meteor"`}},
		{"corrupt on the local engine", `
    action  = "corrupt"
    corrupt = "10"`, 5, []string{"The local engine cannot carry out action \"corrupt\"", "delay, loss, partition"}},
		{"an attribute of another action", `
    action  = "loss"
    loss    = "10"
    latency = "10ms"`, 7, []string{`"latency" does not apply to action "loss"`}},
		{"a process fault on a URL target", `
    action = "pod-kill"`, 4, []string{`target "web" has no process block`}},
		{"the docker engine on a process", `
    action = "pod-kill"
    engine = "docker"
    target = target.svc`, 4, []string{`target "svc" has no container block`}},
		{"an upstream that is not on this machine", `
    action   = "delay"
    latency  = "10ms"
    upstream = "10.0.0.5:5432"
    listen   = "127.0.0.1:15432"`, 7, []string{`"upstream" must be a loopback host:port`}},
		{"an upstream without listen", `
    action   = "delay"
    latency  = "10ms"
    upstream = "127.0.0.1:5432"`, 7, []string{"needs listen"}},
		{"a path on the local engine", `
    action = "abort"
    path   = "/api"`, 6, []string{"cannot choose requests by path"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, diags := load(t, `
chaos "bad" {
  target = target.web
  fault "f" {`+c.src+`
  }
}`)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var found bool
			for _, d := range diags {
				text := d.Summary + ": " + d.Detail
				all := d.Severity == hcl.DiagError && d.Subject != nil
				for _, w := range c.want {
					all = all && strings.Contains(text, w)
				}
				if all {
					found = true
					if got := d.Subject.Start.Line - strings.Count(targets, "\n"); got != c.line {
						t.Errorf("diagnostic on line %d of the suite, want %d: %s", got, c.line, text)
					}
				}
			}
			if !found {
				t.Fatalf("no diagnostic with %q among:\n%s", c.want, diags.Error())
			}
		})
	}
}

func TestEveryActionBuildsAValidObject(t *testing.T) {
	t.Parallel()
	src := `
chaos "all" {
  target = target.svc
  fault "kill"   { action = "pod-kill" }
  fault "freeze" {
    action   = "pod-failure"
    duration = "2s"
  }
  fault "gone" { action = "container-kill" }
  fault "lag" {
    action    = "delay"
    latency   = "10ms"
    upstream  = "127.0.0.1:5432"
    listen    = "127.0.0.1:15432"
    direction = "both"
  }
  fault "drop" {
    action = "loss"
    loss   = 25
  }
  fault "cut"  { action = "partition" }
  fault "thin" {
    action = "bandwidth"
    rate   = "1mbps"
    limit  = 100
    buffer = 10000
  }
  fault "hot" {
    action  = "cpu"
    workers = 2
    load    = 50
  }
  fault "fat" {
    action = "memory"
    size   = "64MB"
  }
  fault "nope" { action = "abort" }
  fault "wait" {
    action = "http-delay"
    delay  = "300ms"
    port   = 8080
  }
}`
	specs, diags := load(t, src)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	kinds := map[string]string{"kill": "PodChaos", "freeze": "PodChaos", "gone": "PodChaos", "lag": "NetworkChaos", "drop": "NetworkChaos",
		"cut": "NetworkChaos", "thin": "NetworkChaos", "hot": "StressChaos", "fat": "StressChaos", "nope": "HTTPChaos", "wait": "HTTPChaos"}
	for _, s := range specs {
		if s.Kind != kinds[s.Name] || s.Object == nil {
			t.Errorf("fault %q: kind %q", s.Name, s.Kind)
		}
		if _, err := s.YAML(); err != nil {
			t.Errorf("fault %q: %v", s.Name, err)
		}
	}
}

func TestABlockWithSeveralMistakesReportsEveryOneInTheOrderWritten(t *testing.T) {
	t.Parallel()
	_, diags := load(t, `
chaos "bad" {
  target = target.web
  fault "f" {
    action       = "delay"
    latency      = "10ms"
    grace_period = 3
    loss         = 200
    rate         = "1mbps"
    duration     = "5s"
  }
}`)
	var got []string
	for _, d := range diags {
		got = append(got, fmt.Sprintf("%d %s", d.Subject.Start.Line-strings.Count(targets, "\n"), d.Summary))
	}
	want := []string{"7 Attribute does not apply", "8 Attribute does not apply", "9 Attribute does not apply", "8 Invalid value"}
	if !slices.Equal(got, want) {
		t.Fatalf("diagnostics %q, want %q:\n%s", got, want, diags.Error())
	}
}
