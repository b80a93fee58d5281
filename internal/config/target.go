package config

import (
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
)

var targetSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "url"},
		{Name: "embedded"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "process"},
		{Type: "tls"},
		{Type: "demobank"},
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
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "process":
			if t.Process != nil {
				diags = append(diags, duplicate("process block", "", blk.DefRange, b.DefRange))
				continue
			}
			ways++
			t.Process, d = decodeProcess(blk, dc)
			diags = append(diags, d...)
		case "tls":
			d = decodeTLS(&t.TLS, blk, dc)
			diags = append(diags, d...)
		case "demobank":
			if t.Embedded != "demobank" {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unexpected demobank block",
					Detail:  "A demobank block configures an embedded demo bank; add embedded = \"demobank\" to the target or remove the block.",
					Subject: blk.DefRange.Ptr()})
				continue
			}
			d = decodeDemobank(&t.EmbeddedOptions, blk, dc)
			diags = append(diags, d...)
		}
	}
	if ways != 1 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Target needs exactly one way to reach it",
			Detail:   fmt.Sprintf("Target %q must have exactly one of url = \"https://…\", embedded = \"demobank\" or a process { command = [...] } block; it has %d.", t.Name, ways),
			Subject:  b.DefRange.Ptr(),
		})
	}
	return t, diags
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
		for _, path := range keys(m) {
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
