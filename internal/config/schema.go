package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Schema is the schema of one block's body as its decoder reads it: the
// hcl.BodySchema values the decoder passes to Content or PartialContent
// (the very variables, not a copy), and the Schema of each nested block
// type those declare. It exists so that what the loader accepts can be
// listed (the docs test walks it: every block and attribute is documented)
// without a second table that could drift from the decoders: Check refuses
// a tree whose nested blocks are not exactly those of its body schemas.
type Schema struct {
	// Bodies are the body schemas the decoder reads the block with, in
	// order (a suite: the common attributes, then its kind's; a step: use
	// and with, then the step's own).
	Bodies []*hcl.BodySchema
	// Blocks is the schema of each block type that Bodies declare.
	Blocks map[string]*Schema
	// ByLabel, when set, is the schema of the body by the block's first
	// label, which picks how it is decoded (a security suite's check
	// "tls" { … }); Bodies and Blocks are then empty.
	ByLabel map[string]*Schema
	// Free is a body whose attribute names are the user's own (capture,
	// locals): it has no keywords to document.
	Free bool
}

// Attributes are the attribute names of s's bodies, in declaration order.
func (s *Schema) Attributes() []string {
	var out []string
	for _, b := range s.Bodies {
		for _, a := range b.Attributes {
			if !slices.Contains(out, a.Name) {
				out = append(out, a.Name)
			}
		}
	}
	return out
}

// headers are the block types that s's bodies declare.
func (s *Schema) headers() []string {
	var out []string
	for _, b := range s.Bodies {
		for _, h := range b.Blocks {
			if !slices.Contains(out, h.Type) {
				out = append(out, h.Type)
			}
		}
	}
	return out
}

// Walk calls fn for s and every schema below it, depth first, with the
// path of block types (and, for ByLabel, "type[label]") from the root.
func (s *Schema) Walk(fn func(path []string, s *Schema)) {
	s.walk(nil, fn)
}

func (s *Schema) walk(path []string, fn func([]string, *Schema)) {
	fn(path, s)
	for _, l := range sortedKeys(s.ByLabel) {
		sub := slices.Clone(path)
		if n := len(sub); n > 0 {
			sub[n-1] = fmt.Sprintf("%s[%s]", sub[n-1], l)
		}
		s.ByLabel[l].walk(sub, fn)
	}
	for _, t := range s.headers() {
		if b := s.Blocks[t]; b != nil {
			b.walk(append(slices.Clone(path), t), fn)
		}
	}
}

// Check reports every place where the tree and the body schemas disagree:
// a block type a body schema declares without a Schema in Blocks, or a
// Schema in Blocks no body schema declares.
func (s *Schema) Check() []error {
	var errs []error
	s.Walk(func(path []string, n *Schema) {
		if n.ByLabel != nil {
			return
		}
		hs := n.headers()
		for _, h := range hs {
			if n.Blocks[h] == nil {
				errs = append(errs, fmt.Errorf("%s: block %q has no Schema in the tree", strings.Join(path, " › "), h))
			}
		}
		for _, t := range sortedKeys(n.Blocks) {
			if !slices.Contains(hs, t) {
				errs = append(errs, fmt.Errorf("%s: the tree has a block %q that no body schema declares", strings.Join(path, " › "), t))
			}
		}
	})
	return errs
}

func sortedKeys(m map[string]*Schema) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Attrs is the schema of a body with attributes only.
func Attrs(body *hcl.BodySchema) *Schema { return &Schema{Bodies: []*hcl.BodySchema{body}} }

// FreeBody is the schema of a body of the user's own attribute names.
var FreeBody = &Schema{Free: true}

// RootSchema is the schema of the files the loader reads with opts:
// the top-level blocks, each suite kind's block (its common attributes
// and its kind's Schema) and the other block kinds'. templateBody is the
// body of a step as internal/step decodes it, which a step_template's
// body is too.
func RootSchema(opts Options, templateBody *Schema) *Schema {
	tpl := &Schema{Bodies: append([]*hcl.BodySchema{templateSchema}, templateBody.Bodies...),
		Blocks: map[string]*Schema{"param": Attrs(variableSchema)}}
	for t, b := range templateBody.Blocks {
		tpl.Blocks[t] = b
	}
	root := &Schema{Bodies: []*hcl.BodySchema{rootSchema(opts.Kinds, opts.Blocks)}, Blocks: map[string]*Schema{
		"variable": Attrs(variableSchema),
		"locals":   FreeBody,
		"deployment": {Bodies: []*hcl.BodySchema{deploymentSchema}, Blocks: map[string]*Schema{
			"component": Attrs(componentSchema), "approver": Attrs(approverSchema)}},
		"target": {Bodies: []*hcl.BodySchema{targetSchema}, Blocks: map[string]*Schema{
			"process": Attrs(processSchema), "container": Attrs(containerSchema), "tls": Attrs(tlsSchema),
			"demobank": Attrs(demobankSchema), "kubernetes": Attrs(kubernetesSchema)}},
		"step_template": tpl,
	}}
	for _, k := range opts.Kinds {
		own := &Schema{}
		if k.Schema != nil {
			own = k.Schema()
		}
		root.Blocks[k.Type] = &Schema{Bodies: append([]*hcl.BodySchema{commonSchema}, own.Bodies...), Blocks: own.Blocks}
	}
	for _, k := range opts.Blocks {
		if k.Schema != nil {
			root.Blocks[k.Type] = k.Schema()
		} else {
			root.Blocks[k.Type] = &Schema{}
		}
	}
	return root
}
