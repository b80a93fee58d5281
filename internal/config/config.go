// Package config reads a directory of cloudtest HCL files into plain Go
// values. Everything known before the run is evaluated here; what needs a
// value from the run (response.status, capture.token) stays an
// hcl.Expression, evaluated later through Config.EvalContext. Every problem
// is an hcl.Diagnostic with a source range, and loading goes on after an error
// so that the user sees every problem at once.
package config

import (
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Config is a loaded suite directory.
type Config struct {
	// Dir is the directory the files were read from (the file's directory
	// when a single file was given); relative paths are resolved against it.
	Dir   string
	Files map[string]*hcl.File

	Project    string
	Variables  map[string]*Variable
	Locals     map[string]cty.Value
	Deployment *Deployment
	Targets    map[string]*Target
	// StepTemplates are the step_template blocks by name (template.go).
	StepTemplates map[string]*StepTemplate
	// TargetOrder keeps targets in the order they were declared.
	TargetOrder []string
	// Suites in the order they were declared, file by file (files sorted by name).
	Suites []Suite
	// Blocks holds the decoded values of the other block kinds (Options.Blocks)
	// by block type, in declaration order.
	Blocks map[string][]any

	static *hcl.EvalContext
	// sensitiveLocals are the locals that refer to a sensitive variable or
	// local, or call sensitive(); wholeSensitive those of them that call
	// sensitive(), every string of which is a secret.
	sensitiveLocals, wholeSensitive map[string]bool
	// sensitiveData are values read from data files (a feed's columns
	// marked sensitive) that every redactor of the run hides.
	sensitiveData []string
}

// Variable is a declared input variable and the value it got.
type Variable struct {
	Name        string
	Description string
	Type        cty.Type
	Default     cty.Value
	Sensitive   bool
	Value       cty.Value
	// Source says where the value came from: "default", "-var", "-var-file x.hcl", "env CLOUDTEST_VAR_x".
	Source    string
	DeclRange hcl.Range
}

// Deployment is the deployment block: how the system is deployed after the
// move, component by component. The responsibility matrix is computed from it.
type Deployment struct {
	Mode       string
	Components []*Component
	Approvers  []Approver
	DeclRange  hcl.Range
}

// Component returns the named component or nil.
func (d *Deployment) Component(name string) *Component {
	if d == nil {
		return nil
	}
	for _, c := range d.Components {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Component is one part of the system with its own deployment mode.
type Component struct {
	Name      string
	Mode      string
	Layers    []string
	Tier      string
	Vendor    string
	DeclRange hcl.Range
}

// Approver is a person who signs the acceptance report.
type Approver struct {
	Name, Role string
}

// Target is how a system under test is reached or started.
type Target struct {
	Name string
	// Exactly one of URL, Embedded, Process, Container and Kubernetes is set.
	URL      string
	Embedded string
	// EmbeddedArgs are demo options for an embedded target (write_behind, slow_paths, insecure).
	EmbeddedOptions EmbeddedOptions
	Process         *Process
	Container       *Container
	Kubernetes      *Kubernetes
	TLS             TLS
	// OpenAPI is the target's OpenAPI document (a path relative to the
	// configuration's directory), which expect { openapi = true } checks
	// answers against.
	OpenAPI      string
	OpenAPIRange hcl.Range
	DeclRange    hcl.Range
}

// EmbeddedOptions configure the embedded demo bank.
type EmbeddedOptions struct {
	WriteBehind time.Duration
	SlowPaths   map[string]time.Duration
	Insecure    bool
	DataDir     string
}

// Process is a command cloudtest starts, supervises and stops.
type Process struct {
	Command []string
	Dir     string
	Env     map[string]string
	// URL is where the process serves once ready; "{port}" in Command, Env
	// and URL is replaced by a free port chosen at start.
	URL string
	// Ready is the path (joined to URL) polled until it answers 2xx.
	Ready        string
	ReadyTimeout time.Duration
	// Restart is "never" (default) or "always": restarted when it exits.
	Restart string
}

// Container is a target cloudtest builds or takes as an image and runs as
// a container (testcontainers-go).
type Container struct {
	// Exactly one of Build (an absolute directory with a Dockerfile), Image
	// and Embedded ("demobank": cloudtest itself in a FROM-scratch image,
	// configured by the target's demobank block) is set.
	Build    string
	Image    string
	Embedded string
	// Ports are the container ports published on 127.0.0.1, such as
	// "8080" or "8080/tcp"; the URL points to the first.
	Ports []string
	Env   map[string]string
	Cmd   []string
	// Wait is the HTTP path polled until it answers 2xx.
	Wait        string
	WaitTimeout time.Duration
	// Restart is "never" (default) or "always": Docker restarts a container
	// that exits, and a container-kill fault starts it again.
	Restart   string
	DeclRange hcl.Range
}

// TLS holds the client TLS settings used to reach a target.
type TLS struct {
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
}

// Suite is a decoded suite block of any kind.
type Suite interface {
	Common() *SuiteCommon
}

// SuiteCommon holds the attributes every suite kind shares.
type SuiteCommon struct {
	Kind        string
	Name        string
	Description string
	Component   string
	// Components names every component a suite exercises, for suites that
	// cross components (hybrid links); Component is Components[0].
	Components  []string
	Target      string
	TargetRange hcl.Range
	// UsesTargets lists every target the suite refers to (its own target and
	// any target.NAME in its expressions); all are started before it runs.
	UsesTargets []string
	Tags        []string
	Timeout     time.Duration
	DependsOn   []string
	DeclRange   hcl.Range
}

// Common lets *SuiteCommon be embedded to satisfy Suite.
func (c *SuiteCommon) Common() *SuiteCommon { return c }

// HasTag reports whether the suite carries tag.
func (c *SuiteCommon) HasTag(tag string) bool {
	for _, t := range c.Tags {
		if t == tag {
			return true
		}
	}
	return false
}

// Location is file:line of the block, for results and messages.
func Location(r hcl.Range) string {
	if r.Filename == "" {
		return ""
	}
	return r.Filename + ":" + strconv.Itoa(r.Start.Line)
}

// SensitiveValues returns the string forms of the values of sensitive
// variables and of the locals derived from them (base64encode("u:${var.pw}"))
// or marked with sensitive(), for redaction in reports.
func (c *Config) SensitiveValues() []string {
	var out []string
	for _, v := range c.Variables {
		if !v.Sensitive || v.Value.IsNull() || !v.Value.IsKnown() {
			continue
		}
		// Every string in a sensitive variable is a secret: the elements
		// of a sensitive map or list too (for_each = var.keys hands them
		// out one by one as each.value).
		// (Not its booleans: "true" is no secret, and hiding it would
		// garble every message that says true.)
		collection := v.Value.CanIterateElements()
		for _, s := range sensitiveStrings(v.Value, true) {
			// In a collection, not its booleans nor its values under 4
			// characters ({ retries = 1 }): hiding every "1" or "true"
			// would garble every output. A short secret is declared on
			// its own.
			if s == "true" || s == "false" || (collection && len(s) < 4) {
				continue
			}
			out = append(out, s)
		}
	}
	for name := range c.sensitiveLocals {
		out = append(out, sensitiveStrings(c.Locals[name], c.wholeSensitive[name])...)
	}
	return append(out, c.sensitiveData...)
}

// EvalContext returns a context for evaluating late expressions: the
// variables, locals, targets and functions known at load time plus the
// run-time values given (response, capture, each, target with real URLs).
func (c *Config) EvalContext(runtime map[string]cty.Value) *hcl.EvalContext {
	ctx := c.static.NewChild()
	ctx.Variables = runtime
	return ctx
}
