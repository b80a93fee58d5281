package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestContainerTargetsDecode(t *testing.T) {
	dir := write(t, map[string]string{"t.hcl": `
target "built" {
  container {
    build        = "server"
    ports        = ["9000/tcp", "9001"]
    env          = { MODE = "test" }
    cmd          = ["--verbose"]
    wait         = "/ready"
    wait_timeout = "20s"
    restart      = "always"
  }
}
target "bank" {
  demobank { write_behind = "500ms" }
  container { embedded = "demobank" }
}
`})
	if err := os.MkdirAll(filepath.Join(dir, "server"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "server", "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, dir, Options{})
	c := cfg.Targets["built"].Container
	if c == nil || c.Build != filepath.Join(dir, "server") || strings.Join(c.Ports, ",") != "9000/tcp,9001" ||
		c.Env["MODE"] != "test" || c.Cmd[0] != "--verbose" || c.Wait != "/ready" || c.WaitTimeout.Seconds() != 20 || c.Restart != "always" {
		t.Fatalf("built container decoded as %+v", c)
	}
	bank := cfg.Targets["bank"]
	if bank.Container == nil || bank.Container.Embedded != "demobank" || bank.Container.Ports[0] != "8080" ||
		bank.Container.Wait != "/healthz" || bank.Container.Restart != "never" || bank.EmbeddedOptions.WriteBehind.Milliseconds() != 500 {
		t.Fatalf("demo bank container decoded as %+v / %+v", bank.Container, bank.EmbeddedOptions)
	}
}

func TestBadContainerTargetsNameTheLineAndField(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"two sources", `target "x" {
  container {
    image    = "a:1"
    embedded = "demobank"
  }
}`, `t.hcl:2,3-12: Container needs exactly one source`},
		{"no Dockerfile", `target "x" {
  container {
    build = "nowhere"
    ports = ["80"]
  }
}`, `t.hcl:3,13-22: No Dockerfile to build`},
		{"no ports", `target "x" {
  container { image = "a:1" }
}`, `t.hcl:2,3-12: Missing required attribute; A container built or taken from an image needs ports`},
		{"bad port", `target "x" {
  container {
    image = "a:1"
    ports = ["http"]
  }
}`, `t.hcl:4,13-21: Invalid container port; Each of ports must be a container port such as "8080" or "8080/tcp"; found "http".`},
		{"bad restart", `target "x" {
  container {
    embedded = "demobank"
    restart  = "sometimes"
  }
}`, `t.hcl:4,16-27`},
		{"relative wait", `target "x" {
  container {
    embedded = "demobank"
    wait     = "healthz"
  }
}`, `t.hcl:4,16-25: Invalid wait path`},
		{"data_dir in a container", `target "x" {
  container { embedded = "demobank" }
  demobank { data_dir = "/tmp/x" }
}`, `t.hcl:3,3-11: Unsupported attribute; data_dir is not available for a demo bank in a container`},
		{"container and url", `target "x" {
  url = "http://127.0.0.1:1"
  container { embedded = "demobank" }
}`, `t.hcl:1,1-11: Target needs exactly one way to reach it; Target "x" must have exactly one of url = "https://…", embedded = "demobank", a process { command = [...] } block, a container { … } block or a kubernetes { … } block; it has 2.`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := write(t, map[string]string{"t.hcl": c.src})
			_, _, diags := Load(dir, Options{Kinds: []SuiteKind{plainKind}})
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			if got := diags.Error(); !strings.Contains(got, c.want) {
				t.Fatalf("diagnostics\n%s\ndo not contain\n%s", got, c.want)
			}
		})
	}
}
