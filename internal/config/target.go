package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var targetSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "url"},
		{Name: "embedded"},
		{Name: "openapi"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "process"},
		{Type: "container"},
		{Type: "tls"},
		{Type: "demobank"},
		{Type: "kubernetes"},
	},
}

var processSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "command", Required: true},
		{Name: "dir"},
		{Name: "env"},
		{Name: "url"},
		{Name: "ready"},
		{Name: "ready_timeout"},
		{Name: "restart"},
	},
}

var containerSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "build"},
		{Name: "image"},
		{Name: "embedded"},
		{Name: "ports"},
		{Name: "env"},
		{Name: "cmd"},
		{Name: "wait"},
		{Name: "wait_timeout"},
		{Name: "restart"},
	},
}

var tlsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "ca_file"},
		{Name: "cert_file"},
		{Name: "key_file"},
		{Name: "server_name"},
		{Name: "insecure_skip_verify"},
	},
}

var demobankSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "write_behind"},
		{Name: "slow_paths"},
		{Name: "insecure"},
		{Name: "data_dir"},
	},
}

// Embedded systems cloudtest can start in-process.
var embeddedKinds = []string{"demobank"}

func decodeTarget(b *hcl.Block, dc *DecodeContext) (*Target, hcl.Diagnostics) {
	t := &Target{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(targetSchema)
	var d hcl.Diagnostics
	ways := 0
	if a, ok := content.Attributes["url"]; ok {
		ways++
		t.URL, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["embedded"]; ok {
		ways++
		t.Embedded, d = dc.OneOf(a, embeddedKinds...)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["openapi"]; ok {
		diags = append(diags, decodeTargetOpenAPI(t, a, dc)...)
	}
	blockWays, demobankBlock, d := decodeTargetBlocks(t, b, content.Blocks, dc)
	ways += blockWays
	diags = append(diags, d...)
	if demobankBlock != nil {
		diags = append(diags, decodeTargetDemobank(t, demobankBlock, dc)...)
	}
	if ways != 1 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Target needs exactly one way to reach it",
			Detail:   fmt.Sprintf("Target %q must have exactly one of url = \"https://…\", embedded = \"demobank\", a process { command = [...] } block, a container { … } block or a kubernetes { … } block; it has %d.", t.Name, ways),
			Subject:  b.DefRange.Ptr(),
		})
	}
	return t, diags
}

// decodeTargetOpenAPI decodes a target's openapi attribute and checks that
// the document it names can be read.
func decodeTargetOpenAPI(t *Target, a *hcl.Attribute, dc *DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	t.OpenAPI, diags = dc.String(a)
	if diags != nil {
		return diags
	}
	p := t.OpenAPI
	if !filepath.IsAbs(p) {
		p = filepath.Join(dc.cfg.Dir, p)
	}
	if _, err := os.Stat(p); err != nil {
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "File not found",
			Detail: fmt.Sprintf("openapi: %s cannot be read: %v.", t.OpenAPI, err), Subject: a.Expr.Range().Ptr()})
	}
	t.OpenAPIRange = a.Expr.Range()
	return diags
}

// decodeTargetBlocks decodes a target's blocks. It returns how many of them
// are a way to reach the target (container, process, kubernetes) and the
// demobank block, which is checked once every block is known.
func decodeTargetBlocks(t *Target, b *hcl.Block, blocks hcl.Blocks, dc *DecodeContext) (int, *hcl.Block, hcl.Diagnostics) {
	var diags, d hcl.Diagnostics
	ways := 0
	var demobankBlock *hcl.Block
	for _, blk := range blocks {
		switch blk.Type {
		case "container":
			if t.Container != nil {
				diags = append(diags, duplicate("container block", "", blk.DefRange, b.DefRange))
				continue
			}
			ways++
			t.Container, d = decodeContainer(blk, dc)
			diags = append(diags, d...)
		case "process":
			if t.Process != nil {
				diags = append(diags, duplicate("process block", "", blk.DefRange, b.DefRange))
				continue
			}
			ways++
			t.Process, d = decodeProcess(blk, dc)
			diags = append(diags, d...)
		case "kubernetes":
			if t.Kubernetes != nil {
				diags = append(diags, duplicate("kubernetes block", "", blk.DefRange, b.DefRange))
				continue
			}
			ways++
			t.Kubernetes, d = decodeKubernetes(blk, dc)
			diags = append(diags, d...)
		case "tls":
			d = decodeTLS(&t.TLS, blk, dc)
			diags = append(diags, d...)
		case "demobank":
			// Checked after the loop: the container block may come later.
			demobankBlock = blk
		}
	}
	return ways, demobankBlock, diags
}

// decodeTargetDemobank decodes a target's demobank block, which needs the
// target (or its container) to be the embedded demo bank.
func decodeTargetDemobank(t *Target, blk *hcl.Block, dc *DecodeContext) hcl.Diagnostics {
	inContainer := t.Container != nil && t.Container.Embedded == "demobank"
	if t.Embedded != "demobank" && !inContainer {
		return hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unexpected demobank block",
			Detail:  "A demobank block configures the demo bank; add embedded = \"demobank\" to the target (or to its container block) or remove the block.",
			Subject: blk.DefRange.Ptr()}}
	}
	var diags hcl.Diagnostics
	diags = append(diags, decodeDemobank(&t.EmbeddedOptions, blk, dc)...)
	if inContainer && t.EmbeddedOptions.DataDir != "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsupported attribute",
			Detail:  "data_dir is not available for a demo bank in a container: it keeps its journal inside the container, where it survives kills and restarts.",
			Subject: blk.DefRange.Ptr()})
	}
	return diags
}

func decodeProcess(b *hcl.Block, dc *DecodeContext) (*Process, hcl.Diagnostics) {
	p := &Process{Restart: "never", ReadyTimeout: 30 * time.Second}
	content, diags := b.Body.Content(processSchema)
	var d hcl.Diagnostics
	if a, ok := content.Attributes["command"]; ok {
		p.Command, d = dc.Strings(a)
		diags = append(diags, d...)
		if !d.HasErrors() && len(p.Command) == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty command",
				Detail: "The attribute \"command\" must name a program, such as [\"./server\", \"--port\", \"{port}\"].", Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["dir"]; ok {
		p.Dir, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["env"]; ok {
		p.Env, d = dc.StringMap(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["url"]; ok {
		p.URL, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["ready"]; ok {
		p.Ready, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["ready_timeout"]; ok {
		p.ReadyTimeout, d = dc.Duration(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["restart"]; ok {
		p.Restart, d = dc.OneOf(a, "never", "always")
		diags = append(diags, d...)
	}
	if p.Ready != "" && p.URL == "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required attribute",
			Detail: "A process with a ready probe needs url, the address it serves on, such as \"http://127.0.0.1:{port}\".", Subject: b.DefRange.Ptr()})
	}
	return p, diags
}

func decodeContainer(b *hcl.Block, dc *DecodeContext) (*Container, hcl.Diagnostics) {
	c := &Container{Restart: "never", WaitTimeout: 60 * time.Second, DeclRange: b.DefRange}
	content, diags := b.Body.Content(containerSchema)
	sources, d := decodeContainerSource(c, content, dc)
	diags = append(diags, d...)
	if sources != 1 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Container needs exactly one source",
			Detail:  fmt.Sprintf("A container block must have exactly one of build = \"dir with a Dockerfile\", image = \"name:tag\" or embedded = \"demobank\"; it has %d.", sources),
			Subject: b.DefRange.Ptr()})
	}
	diags = append(diags, decodeContainerRun(c, content, dc)...)
	if c.Embedded == "demobank" {
		// The image runs `cloudtest demo`; its port and health path are known.
		if len(c.Ports) == 0 {
			c.Ports = []string{"8080"}
		}
		if c.Wait == "" {
			c.Wait = "/healthz"
		}
	}
	if sources == 1 && c.Embedded == "" && len(c.Ports) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing required attribute",
			Detail:  "A container built or taken from an image needs ports, the container ports to publish, such as [\"8080\"]; the target's URL points to the first.",
			Subject: b.DefRange.Ptr()})
	}
	return c, diags
}

// decodeContainerSource decodes where a container's image comes from (build,
// image or embedded) and returns how many of them are set.
func decodeContainerSource(c *Container, content *hcl.BodyContent, dc *DecodeContext) (int, hcl.Diagnostics) {
	var diags, d hcl.Diagnostics
	sources := 0
	if a, ok := content.Attributes["build"]; ok {
		sources++
		c.Build, d = dc.String(a)
		diags = append(diags, d...)
		if !d.HasErrors() && c.Build != "" {
			diags = append(diags, resolveBuild(c, a)...)
		}
	}
	if a, ok := content.Attributes["image"]; ok {
		sources++
		c.Image, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["embedded"]; ok {
		sources++
		c.Embedded, d = dc.OneOf(a, embeddedKinds...)
		diags = append(diags, d...)
	}
	return sources, diags
}

// decodeContainerRun decodes how a container runs: its ports, environment,
// command, health path, wait timeout and restart policy.
func decodeContainerRun(c *Container, content *hcl.BodyContent, dc *DecodeContext) hcl.Diagnostics {
	var diags, d hcl.Diagnostics
	if a, ok := content.Attributes["ports"]; ok {
		c.Ports, d = dc.Strings(a)
		diags = append(diags, d...)
		for _, p := range c.Ports {
			if !validContainerPort(p) {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid container port",
					Detail:  fmt.Sprintf("Each of ports must be a container port such as \"8080\" or \"8080/tcp\"; found %q.", p),
					Subject: a.Expr.Range().Ptr()})
			}
		}
	}
	if a, ok := content.Attributes["env"]; ok {
		c.Env, d = dc.StringMap(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["cmd"]; ok {
		c.Cmd, d = dc.Strings(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["wait"]; ok {
		c.Wait, d = dc.String(a)
		diags = append(diags, d...)
		if !d.HasErrors() && !strings.HasPrefix(c.Wait, "/") {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid wait path",
				Detail:  fmt.Sprintf("The attribute \"wait\" must be an HTTP path starting with /, such as \"/healthz\"; found %q.", c.Wait),
				Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["wait_timeout"]; ok {
		c.WaitTimeout, d = dc.Duration(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["restart"]; ok {
		c.Restart, d = dc.OneOf(a, "never", "always")
		diags = append(diags, d...)
	}
	return diags
}

// resolveBuild makes a relative build directory relative to the file that
// declares it, and checks that it holds a Dockerfile.
func resolveBuild(c *Container, a *hcl.Attribute) hcl.Diagnostics {
	dir := c.Build
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(a.Expr.Range().Filename), dir)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	c.Build = dir
	if _, err := os.Stat(filepath.Join(dir, "Dockerfile")); err != nil {
		return hcl.Diagnostics{&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No Dockerfile to build",
			Detail:  fmt.Sprintf("The attribute \"build\" must name a directory that holds a Dockerfile; %s has none.", dir),
			Subject: a.Expr.Range().Ptr()}}
	}
	return nil
}

func validContainerPort(p string) bool {
	num, proto, slash := strings.Cut(p, "/")
	if slash && proto != "tcp" && proto != "udp" {
		return false // "8080/" names no protocol
	}
	n, err := strconv.Atoi(num)
	return err == nil && strconv.Itoa(n) == num && n > 0 && n < 65536
}

func decodeTLS(t *TLS, b *hcl.Block, dc *DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(tlsSchema)
	var d hcl.Diagnostics
	for name, dst := range map[string]*string{"ca_file": &t.CAFile, "cert_file": &t.CertFile, "key_file": &t.KeyFile, "server_name": &t.ServerName} {
		if a, ok := content.Attributes[name]; ok {
			*dst, d = dc.String(a)
			diags = append(diags, d...)
		}
	}
	if a, ok := content.Attributes["insecure_skip_verify"]; ok {
		t.InsecureSkipVerify, d = dc.Bool(a)
		diags = append(diags, d...)
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Incomplete client certificate",
			Detail: "A client certificate needs both cert_file and key_file.", Subject: b.DefRange.Ptr()})
	}
	if !diags.HasErrors() {
		diags = append(diags, checkTLSFiles(t, content, dc.cfg.Dir)...)
	}
	return diags
}

// checkTLSFiles reads the files of a tls block now, so that a missing
// file, a CA file without a certificate or a certificate and key that do
// not make a pair are found by validate, at the attribute, rather than
// when the suite starts.
func checkTLSFiles(t *TLS, content *hcl.BodyContent, dir string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	bad := func(attr, summary, detail string) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail,
			Subject: content.Attributes[attr].Expr.Range().Ptr()})
	}
	readable := true
	for _, f := range []struct{ attr, path string }{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(abs(f.path)); err != nil {
			readable = false
			if pe, ok := err.(*os.PathError); ok {
				err = pe.Err
			}
			bad(f.attr, "File not found", fmt.Sprintf("tls.%s: %s cannot be read: %v.", f.attr, f.path, err))
		}
	}
	if !readable {
		return diags
	}
	if t.CAFile != "" {
		if b, err := os.ReadFile(abs(t.CAFile)); err == nil && !x509.NewCertPool().AppendCertsFromPEM(b) {
			bad("ca_file", "No CA certificate", fmt.Sprintf("tls.ca_file: %s holds no PEM certificate (-----BEGIN CERTIFICATE-----).", t.CAFile))
		}
	}
	if t.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(abs(t.CertFile), abs(t.KeyFile)); err != nil {
			bad("cert_file", "Unusable client certificate", fmt.Sprintf("tls: %s and %s do not make a client certificate: %v.", t.CertFile, t.KeyFile, err))
		}
	}
	return diags
}

func decodeDemobank(o *EmbeddedOptions, b *hcl.Block, dc *DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(demobankSchema)
	var d hcl.Diagnostics
	if a, ok := content.Attributes["write_behind"]; ok {
		o.WriteBehind, d = dc.Duration(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["insecure"]; ok {
		o.Insecure, d = dc.Bool(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["data_dir"]; ok {
		o.DataDir, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["slow_paths"]; ok {
		m, d := dc.StringMap(a)
		diags = append(diags, d...)
		o.SlowPaths = map[string]time.Duration{}
		for _, path := range slices.Sorted(maps.Keys(m)) {
			dur, err := ParseDuration(m[path])
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid duration",
					Detail:  fmt.Sprintf("slow_paths[%q] must be a duration such as \"200ms\"; found %q.", path, m[path]),
					Subject: a.Expr.Range().Ptr()})
				continue
			}
			o.SlowPaths[path] = dur
		}
	}
	return diags
}
