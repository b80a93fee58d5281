package performance

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Feed gives each journey a row of data, as feed.COLUMN in its steps.
type Feed struct {
	Rows []cty.Value
	// Mode: sequential (round robin), random, or unique (each row once; the
	// load stops when they run out).
	Mode string
	File string
	// Sensitive are the columns whose values are secrets (passwords of test
	// users): redacted from every output like a sensitive variable.
	Sensitive []string

	mu   sync.Mutex
	next int
	// seg stripes the rows among generators: this one's k-th journey
	// takes row seg.global(k), so that no two share a unique row.
	seg segment
}

var feedSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "file", Required: true}, {Name: "mode"}, {Name: "sensitive"}}}

func decodeFeed(b *hcl.Block, dc *config.DecodeContext) (*Feed, hcl.Diagnostics) {
	content, diags := b.Body.Content(feedSchema)
	f := &Feed{Mode: "sequential"}
	var d hcl.Diagnostics
	if a, ok := content.Attributes["mode"]; ok {
		f.Mode, d = dc.OneOf(a, "sequential", "random", "unique")
		diags = append(diags, d...)
	}
	a, ok := content.Attributes["file"]
	if !ok {
		return f, diags
	}
	f.File, d = dc.String(a)
	diags = append(diags, d...)
	if d.HasErrors() {
		return f, diags
	}
	path := f.File
	if !filepath.IsAbs(path) {
		path = filepath.Join(dc.Config().Dir, path)
	}
	rows, err := readFeed(path)
	if err == nil && len(rows) == 0 {
		err = fmt.Errorf("it has no rows")
	}
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unreadable feed",
			Detail: fmt.Sprintf("The feed %s cannot be used: %v.", f.File, err), Subject: a.Expr.Range().Ptr()})
	}
	f.Rows = rows
	if a, ok := content.Attributes["sensitive"]; ok && err == nil {
		diags = append(diags, f.decodeSensitive(a, dc)...)
	}
	return f, diags
}

// decodeSensitive reads `sensitive = ["password"]`: each name must be a
// column of the file, and its values become secrets of the run.
func (f *Feed) decodeSensitive(a *hcl.Attribute, dc *config.DecodeContext) hcl.Diagnostics {
	cols, diags := dc.Strings(a)
	if diags.HasErrors() {
		return diags
	}
	have := map[string]bool{}
	for _, r := range f.Rows {
		for name := range r.Type().AttributeTypes() {
			have[name] = true
		}
	}
	for _, c := range cols {
		if !have[c] {
			names := make([]string, 0, len(have))
			for n := range have {
				names = append(names, n)
			}
			sort.Strings(names)
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown feed column",
				Detail:  fmt.Sprintf("The feed %s has no column %q to mark sensitive; its columns are %s.", f.File, c, strings.Join(names, ", ")),
				Subject: a.Expr.Range().Ptr()})
			continue
		}
		f.Sensitive = append(f.Sensitive, c)
		for _, r := range f.Rows {
			if !r.Type().HasAttribute(c) {
				continue
			}
			v := r.GetAttr(c)
			if v.IsNull() || !v.IsKnown() {
				continue
			}
			if sv, err := convert.Convert(v, cty.String); err == nil {
				dc.AddSensitive(sv.AsString())
			}
		}
	}
	return diags
}

// readFeed reads a CSV file with a header line, or a JSON lines file (.jsonl
// or .ndjson) with one object a line.
func readFeed(path string) ([]cty.Value, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var rows []cty.Value
	if ext := strings.ToLower(filepath.Ext(path)); ext == ".jsonl" || ext == ".ndjson" {
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			ty, err := ctyjson.ImpliedType([]byte(line))
			if err != nil || !ty.IsObjectType() {
				return nil, fmt.Errorf("line %d is not a JSON object", n)
			}
			v, err := ctyjson.Unmarshal([]byte(line), ty)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			rows = append(rows, v)
		}
		return rows, sc.Err()
	}
	r := csv.NewReader(fh)
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header line: %w", err)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		obj := map[string]cty.Value{}
		for i, col := range header {
			obj[strings.TrimSpace(col)] = cty.StringVal(rec[i])
		}
		rows = append(rows, cty.ObjectVal(obj))
	}
}

// row returns the next row; ok is false when a unique feed ran out.
func (f *Feed) row() (cty.Value, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch f.Mode {
	case "random":
		return f.Rows[rand.IntN(len(f.Rows))], true
	}
	n := f.seg.global(uint64(f.next))
	if f.Mode == "unique" && n >= uint64(len(f.Rows)) {
		return cty.NilVal, false
	}
	v := f.Rows[n%uint64(len(f.Rows))]
	f.next++
	return v, true
}
