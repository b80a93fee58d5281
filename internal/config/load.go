package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

// SuiteKind decodes one kind of suite block (functional, performance, …).
// The loader decodes the attributes every suite shares and hands the rest of
// the body to Decode, which must report anything it does not know.
type SuiteKind struct {
	Type   string
	Decode func(common *SuiteCommon, body hcl.Body, dc *DecodeContext) (Suite, hcl.Diagnostics)
	// Schema is the schema of the kind's own part of the block's body
	// (the common attributes are the loader's), built from the body
	// schemas Decode uses; see Schema.
	Schema func() *Schema
}

// BlockKind decodes a top-level block that is not a suite (evidence,
// requirement, waiver…). Blocks of these kinds are decoded after the
// deployment, the targets and the suites, in declaration order.
type BlockKind struct {
	Type       string
	LabelNames []string
	Decode     func(block *hcl.Block, dc *DecodeContext) (any, hcl.Diagnostics)
	// Schema is the schema of the block's body, built from the body
	// schemas Decode uses; see Schema.
	Schema func() *Schema
}

// Options say where values come from besides the files.
type Options struct {
	// Vars are -var NAME=VALUE options in the order given.
	Vars []string
	// VarFiles are -var-file paths in the order given.
	VarFiles []string
	// Environ is the environment searched for CLOUDTEST_VAR_NAME (os.Environ()).
	Environ []string
	// Kinds are the suite block kinds the loader accepts.
	Kinds []SuiteKind
	// Blocks are the other top-level block kinds the loader accepts.
	Blocks []BlockKind
}

const envVarPrefix = "CLOUDTEST_VAR_"

// Load reads path, a directory of *.hcl files or a single file. The parser is
// returned even when there are errors so that diagnostics can be printed with
// their source snippets.
func Load(path string, opts Options) (*Config, *hclparse.Parser, hcl.Diagnostics) {
	parser := hclparse.NewParser()
	cfg := &Config{
		Files:         map[string]*hcl.File{},
		Variables:     map[string]*Variable{},
		Locals:        map[string]cty.Value{},
		Targets:       map[string]*Target{},
		StepTemplates: map[string]*StepTemplate{},
		Blocks:        map[string][]any{},
	}
	files, dir, err := listFiles(path)
	if err != nil {
		return nil, parser, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot read suites", Detail: err.Error()}}
	}
	cfg.Dir = dir
	var diags hcl.Diagnostics
	for _, f := range files {
		file, d := parseSource(parser, f)
		diags = append(diags, d...)
		if file != nil {
			cfg.Files[f] = file
		}
	}
	if diags.HasErrors() {
		return nil, parser, diags
	}
	blocks, projectAttr, d := cfg.rootContent(files, rootSchema(opts.Kinds, opts.Blocks))
	diags = append(diags, d...)
	byType := map[string][]*hcl.Block{}
	for _, b := range blocks {
		byType[b.Type] = append(byType[b.Type], b)
	}

	// Values first, in the order they can refer to each other: variables,
	// locals, then the blocks that use them.
	dc := &DecodeContext{cfg: cfg}
	diags = append(diags, decodeVariables(cfg, byType["variable"])...)
	diags = append(diags, assignVariables(cfg, parser, opts)...)
	cfg.static = &hcl.EvalContext{Functions: functions(cfg.Dir)}
	cfg.refreshStatic()
	diags = append(diags, decodeLocals(cfg, byType["locals"])...)
	if projectAttr != nil {
		p, d := dc.String(projectAttr)
		diags = append(diags, d...)
		cfg.Project = p
	}
	diags = append(diags, cfg.decodeTargets(byType["target"], dc)...)
	cfg.refreshStatic()
	diags = append(diags, cfg.decodeDeployments(byType["deployment"], dc)...)
	diags = append(diags, cfg.decodeStepTemplates(byType["step_template"], dc)...)
	seen, d := cfg.decodeSuites(blocks, opts.Kinds, dc)
	diags = append(diags, d...)
	diags = append(diags, cfg.checkUnusedTemplates(dc)...)
	diags = append(diags, cfg.decodeOthers(blocks, opts.Blocks, dc)...)
	diags = append(diags, cfg.checkDependsOn(seen)...)
	return cfg, parser, cfg.redactDiags(diags)
}

// rootContent is every top-level block of the files, in file order, and
// the one project attribute.
func (cfg *Config) rootContent(files []string, schema *hcl.BodySchema) ([]*hcl.Block, *hcl.Attribute, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var blocks []*hcl.Block
	var projectAttr *hcl.Attribute
	for _, f := range files {
		content, d := cfg.Files[f].Body.Content(schema)
		diags = append(diags, d...)
		if a, ok := content.Attributes["project"]; ok {
			if projectAttr != nil {
				diags = append(diags, duplicate("project", "", a.NameRange, projectAttr.NameRange))
			} else {
				projectAttr = a
			}
		}
		blocks = append(blocks, content.Blocks...)
	}
	return blocks, projectAttr, diags
}

func (cfg *Config) decodeTargets(blocks []*hcl.Block, dc *DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, b := range blocks {
		t, d := decodeTarget(b, dc)
		diags = append(diags, d...)
		if t == nil {
			continue
		}
		if prev, dup := cfg.Targets[t.Name]; dup {
			diags = append(diags, duplicate("target", t.Name, b.DefRange, prev.DeclRange))
			continue
		}
		cfg.Targets[t.Name] = t
		cfg.TargetOrder = append(cfg.TargetOrder, t.Name)
	}
	return diags
}

func (cfg *Config) decodeDeployments(blocks []*hcl.Block, dc *DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for i, b := range blocks {
		if i > 0 {
			diags = append(diags, duplicate("deployment", "", b.DefRange, blocks[0].DefRange))
			continue
		}
		dep, d := decodeDeployment(b, dc)
		diags = append(diags, d...)
		cfg.Deployment = dep
	}
	return diags
}

// decodeSuites decodes the blocks of the suite kinds, in declaration order,
// and returns the suites by name.
func (cfg *Config) decodeSuites(blocks []*hcl.Block, kinds []SuiteKind, dc *DecodeContext) (map[string]*SuiteCommon, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	byType := map[string]SuiteKind{}
	for _, k := range kinds {
		byType[k.Type] = k
	}
	seen := map[string]*SuiteCommon{}
	for _, b := range blocks {
		kind, ok := byType[b.Type]
		if !ok {
			continue
		}
		common, rest, d := decodeCommon(b, dc)
		diags = append(diags, d...)
		if prev, dup := seen[common.Name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate suite name",
				Detail:   fmt.Sprintf("A suite named %q is already defined at %s; suite names must be unique across all kinds, because --suite selects by name.", common.Name, Location(prev.DeclRange)),
				Subject:  b.LabelRanges[0].Ptr(),
			})
			continue
		}
		seen[common.Name] = common
		dc.targetRefs = map[string]bool{}
		if common.Target != "" {
			dc.targetRefs[common.Target] = true
		}
		suite, d := kind.Decode(common, rest, dc)
		diags = append(diags, d...)
		if suite != nil {
			suite.Common().UsesTargets = slices.Sorted(maps.Keys(dc.targetRefs))
			cfg.Suites = append(cfg.Suites, suite)
		}
		dc.targetRefs = nil
	}
	return seen, diags
}

// decodeOthers decodes the blocks of Options.Blocks, in declaration order.
func (cfg *Config) decodeOthers(blocks []*hcl.Block, kinds []BlockKind, dc *DecodeContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	byType := map[string]BlockKind{}
	for _, k := range kinds {
		byType[k.Type] = k
	}
	for _, b := range blocks {
		kind, ok := byType[b.Type]
		if !ok {
			continue
		}
		v, d := kind.Decode(b, dc)
		diags = append(diags, d...)
		if v != nil {
			cfg.Blocks[b.Type] = append(cfg.Blocks[b.Type], v)
		}
	}
	return diags
}

func (cfg *Config) checkDependsOn(seen map[string]*SuiteCommon) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, s := range cfg.Suites {
		c := s.Common()
		for _, dep := range c.DependsOn {
			if _, ok := seen[dep]; !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unknown suite in depends_on",
					Detail:   fmt.Sprintf("Suite %q depends on %q, which is not defined.%s", c.Name, dep, Suggest(dep, slices.Sorted(maps.Keys(seen)))),
					Subject:  c.DeclRange.Ptr(),
				})
			}
		}
	}
	return diags
}

func listFiles(path string) ([]string, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if !st.IsDir() {
		return []string{path}, filepath.Dir(path), nil
	}
	matches, err := filepath.Glob(filepath.Join(path, "*.hcl"))
	if err != nil {
		return nil, "", err
	}
	if len(matches) == 0 {
		return nil, "", fmt.Errorf("no *.hcl files in %s", path)
	}
	sort.Strings(matches)
	return matches, path, nil
}

func rootSchema(kinds []SuiteKind, others []BlockKind) *hcl.BodySchema {
	s := &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "project"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "variable", LabelNames: []string{"name"}},
			{Type: "locals"},
			{Type: "deployment"},
			{Type: "target", LabelNames: []string{"name"}},
			{Type: "step_template", LabelNames: []string{"name"}},
		},
	}
	for _, k := range kinds {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k.Type, LabelNames: []string{"name"}})
	}
	for _, k := range others {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: k.Type, LabelNames: k.LabelNames})
	}
	return s
}

func duplicate(kind, name string, rng, prev hcl.Range) *hcl.Diagnostic {
	what := kind
	if name != "" {
		what = fmt.Sprintf("%s %q", kind, name)
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Duplicate " + kind,
		Detail:   fmt.Sprintf("%s is already defined at %s.", upperFirst(what), Location(prev)),
		Subject:  rng.Ptr(),
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// refreshStatic rebuilds the load-time variables of the evaluation context.
func (c *Config) refreshStatic() {
	vars := map[string]cty.Value{}
	for name, v := range c.Variables {
		vars[name] = v.Value
	}
	targets := map[string]cty.Value{}
	for name, t := range c.Targets {
		targets[name] = TargetValue(name, t.URL)
	}
	c.static.Variables = map[string]cty.Value{
		"var":    cty.ObjectVal(vars),
		"local":  cty.ObjectVal(c.Locals),
		"target": cty.ObjectVal(targets),
	}
}

// TargetValue is how a target looks to an expression: target.NAME.url and
// target.NAME.name. The URL of a target cloudtest starts is unknown until it
// runs; the runner passes the real one in the run-time context.
func TargetValue(name, url string) cty.Value {
	u := cty.UnknownVal(cty.String)
	if url != "" {
		u = cty.StringVal(url)
	}
	return cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal(name), "url": u})
}

var commonSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "description"},
		{Name: "component"},
		{Name: "components"},
		{Name: "target"},
		{Name: "tags"},
		{Name: "timeout"},
		{Name: "depends_on"},
	},
}

func decodeCommon(b *hcl.Block, dc *DecodeContext) (*SuiteCommon, hcl.Body, hcl.Diagnostics) {
	c := &SuiteCommon{Kind: b.Type, Name: b.Labels[0], DeclRange: b.DefRange}
	content, rest, diags := b.Body.PartialContent(commonSchema)
	var d hcl.Diagnostics
	if a, ok := content.Attributes["description"]; ok {
		c.Description, d = dc.String(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["component"]; ok {
		c.Component, d = dc.String(a)
		diags = append(diags, d...)
		diags = append(diags, checkComponent(dc.cfg, c.Component, a.Expr.Range())...)
		c.Components = []string{c.Component}
	}
	if a, ok := content.Attributes["components"]; ok {
		list, d := dc.Strings(a)
		diags = append(diags, d...)
		for _, name := range list {
			diags = append(diags, checkComponent(dc.cfg, name, a.Expr.Range())...)
			if !slices.Contains(c.Components, name) {
				c.Components = append(c.Components, name)
			}
		}
		if c.Component == "" && len(c.Components) > 0 {
			c.Component = c.Components[0]
		}
	}
	if a, ok := content.Attributes["target"]; ok {
		c.Target, d = dc.TargetRef(a)
		c.TargetRange = a.Expr.Range()
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["tags"]; ok {
		c.Tags, d = dc.Strings(a)
		diags = append(diags, d...)
		if dc.IsSensitive(a.Expr) {
			// A tag names the suite in the plan, run.json and every
			// report, and on the command line that selects it.
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Sensitive value in tags",
				Detail:  "A tag cannot hold a sensitive value: tags are printed in the plan and in every report. Use a tag that names the suite, not a secret.",
				Subject: a.Expr.Range().Ptr()})
		}
	}
	if a, ok := content.Attributes["timeout"]; ok {
		c.Timeout, d = dc.Duration(a)
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["depends_on"]; ok {
		c.DependsOn, d = dc.Strings(a)
		diags = append(diags, d...)
	}
	return c, rest, diags
}

// checkComponent reports a component that the deployment block does not
// declare. Without a deployment block any name is accepted.
func checkComponent(cfg *Config, name string, rng hcl.Range) hcl.Diagnostics {
	if cfg.Deployment == nil || cfg.Deployment.Component(name) != nil {
		return nil
	}
	var names []string
	for _, c := range cfg.Deployment.Components {
		names = append(names, c.Name)
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Unknown component",
		Detail:   fmt.Sprintf("The deployment block declares no component %q.%s", name, Suggest(name, names)),
		Subject:  rng.Ptr(),
	}}
}
