// Package migration runs migration suites: it proves that the data of a
// source database arrived intact in a target database, table by table, at
// four levels (schema, row counts, column aggregates, every row by key).
// Rows stream from both sides ordered by key and are merged in one pass;
// large tables are split into key ranges compared in parallel, and where
// both sides speak the same dialect each range is checksummed in the
// databases first so that only ranges that differ are fetched.
package migration

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/runner"
)

// Kind is the migration block kind, for the loader's list of kinds.
var Kind = runner.NewKind("migration", decode, Schema)

// Levels of a table comparison, in the order they run.
var Levels = []string{LevelSchema, LevelCount, LevelAggregates, LevelRows}

const (
	LevelSchema     = "schema"
	LevelCount      = "count"
	LevelAggregates = "aggregates"
	LevelRows       = "rows"
)

// Reasons a changed value can have that `ignore` may accept.
var ignorable = []string{ReasonTrailingSpace, ReasonCase, ReasonNormalization, ReasonDecimalScale, ReasonTimestampPrecision}

// Suite is a decoded migration block.
type Suite struct {
	config.SuiteCommon
	Source, Target Endpoint
	Tables         []*Table
	// MaxDiffs is how many differing rows are listed per table; all are counted.
	MaxDiffs int
	// Parallel is how many key ranges are compared at once (connections per side).
	Parallel int
	// ChunkRows is the number of rows a key range aims at.
	ChunkRows int
	// Checksum lets same-dialect ranges be compared by checksum first.
	Checksum bool
}

// A Suite can run: the compiler checks what the plan needs.
var _ runner.Suite = (*Suite)(nil)

// Endpoint is the source or the target database.
type Endpoint struct {
	Role   string // source | target
	Driver string // postgres | mysql | csv
	// DSN is the connection string (usually a sensitive variable); for csv
	// it is the directory holding TABLE.csv files.
	DSN string
	// Types declares column types of csv tables: "TABLE.COLUMN" = "decimal(12,2)".
	Types     map[string]string
	DeclRange hcl.Range
	DSNRange  hcl.Range
}

// Table is one table compared on both sides.
type Table struct {
	Name string
	// TargetName is the table's name on the target (target_table), default Name.
	TargetName string
	Key        []string
	Columns    []string
	Exclude    []string
	// Rename maps source column names to target column names.
	Rename map[string]string
	// Where selects the same rows on both sides; TargetWhere overrides it
	// on the target when the target names columns differently.
	Where, TargetWhere string
	Tolerance          map[string]float64
	Levels             []string
	// Ignore lists reasons of changed values that are accepted.
	Ignore []string

	DeclRange                                                       hcl.Range
	KeyRange, ColumnsRange, RenameRange, ToleranceRange, WhereRange *hcl.Range
}

var schema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "tables"}, {Name: "max_diffs"}, {Name: "parallel"}, {Name: "chunk_rows"}, {Name: "checksum"},
		{Name: "levels"}, {Name: "ignore"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "source"}, {Type: "target"},
		{Type: "table", LabelNames: []string{"name"}},
	},
}

var endpointSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "driver", Required: true}, {Name: "dsn", Required: true}, {Name: "types"},
}}

var tableSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "key"}, {Name: "columns"}, {Name: "exclude"}, {Name: "rename"}, {Name: "where"}, {Name: "target_where"},
	{Name: "target_table"}, {Name: "tolerance"}, {Name: "levels"}, {Name: "ignore"},
}}

func decode(common *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (runner.Suite, hcl.Diagnostics) {
	s := &Suite{SuiteCommon: *common, MaxDiffs: 100, Parallel: 4, ChunkRows: 50000, Checksum: true}
	content, diags := body.Content(schema)
	levels, ignore := s.decodeSettings(content, dc, &diags)
	sources, targets := s.decodeTables(content, dc, levels, ignore, &diags)
	diags = append(diags, s.checkRequired(body.MissingItemRange(), sources, targets)...)
	return s, diags
}

// decodeSettings reads the suite's attributes: the levels and ignores its
// tables default to, and how it compares.
func (s *Suite) decodeSettings(content *hcl.BodyContent, dc *config.DecodeContext, diags *hcl.Diagnostics) (levels, ignore []string) {
	levels = Levels
	if a, ok := content.Attributes["levels"]; ok {
		levels = decodeLevels(a, dc, diags)
	}
	if a, ok := content.Attributes["ignore"]; ok {
		ignore = decodeIgnore(a, dc, diags)
	}
	positive := func(name string, into *int) {
		a, ok := content.Attributes[name]
		if !ok {
			return
		}
		n, d := dc.Int(a)
		*diags = append(*diags, d...)
		if !d.HasErrors() && n < 1 {
			*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid value",
				Detail: fmt.Sprintf("The attribute %q must be at least 1; found %d.", name, n), Subject: a.Expr.Range().Ptr()})
			return
		}
		*into = n
	}
	positive("max_diffs", &s.MaxDiffs)
	positive("parallel", &s.Parallel)
	positive("chunk_rows", &s.ChunkRows)
	if a, ok := content.Attributes["checksum"]; ok {
		b, d := dc.Bool(a)
		*diags = append(*diags, d...)
		s.Checksum = b
	}
	return levels, ignore
}

// decodeTables reads the source and target blocks and the tables, from
// table blocks and the tables list; it counts the source and target blocks.
func (s *Suite) decodeTables(content *hcl.BodyContent, dc *config.DecodeContext, levels, ignore []string, diags *hcl.Diagnostics) (sources, targets int) {
	seen := map[string]hcl.Range{}
	addTable := func(t *Table, rng hcl.Range) {
		if prev, dup := seen[t.Name]; dup {
			*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate table",
				Detail:  fmt.Sprintf("The table %q is already compared at %s.", t.Name, config.Location(prev)),
				Subject: rng.Ptr()})
			return
		}
		seen[t.Name] = rng
		s.Tables = append(s.Tables, t)
	}
	for _, b := range content.Blocks {
		switch b.Type {
		case "source", "target":
			ep := &s.Source
			n := &sources
			if b.Type == "target" {
				ep, n = &s.Target, &targets
			}
			*n++
			if *n > 1 {
				*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate " + b.Type + " block",
					Detail: fmt.Sprintf("A migration suite compares one %s database; this is the second %s block.", b.Type, b.Type), Subject: b.DefRange.Ptr()})
				continue
			}
			*diags = append(*diags, decodeEndpoint(ep, b, dc)...)
		case "table":
			t, d := decodeTable(b, dc, levels, ignore)
			*diags = append(*diags, d...)
			addTable(t, b.DefRange)
		}
	}
	if a, ok := content.Attributes["tables"]; ok {
		names, d := dc.Strings(a)
		*diags = append(*diags, d...)
		for _, n := range names {
			rng := a.Expr.Range()
			addTable(&Table{Name: n, TargetName: n, Levels: levels, Ignore: ignore, DeclRange: rng}, rng)
		}
	}
	return sources, targets
}

// checkRequired refuses a suite without a source, a target, a table or a
// component.
func (s *Suite) checkRequired(def hcl.Range, sources, targets int) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if sources == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing source block",
			Detail:  fmt.Sprintf("The migration suite %q needs a source block, such as source { driver = \"postgres\"  dsn = var.legacy_dsn }.", s.Name),
			Subject: &def})
	}
	if targets == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing target block",
			Detail:  fmt.Sprintf("The migration suite %q needs a target block, such as target { driver = \"mysql\"  dsn = var.cloud_dsn }.", s.Name),
			Subject: &def})
	}
	if len(s.Tables) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "No table to compare",
			Detail:  "Add a table \"NAME\" { key = [\"id\"] } block or a tables = [\"NAME\"] list.",
			Subject: &def})
	}
	if s.Component == "" {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing component",
			Detail:  fmt.Sprintf("The migration suite %q needs component = \"NAME\": its results count as functional tests of that component.", s.Name),
			Subject: s.DeclRange.Ptr()})
	}
	return diags
}

func decodeEndpoint(ep *Endpoint, b *hcl.Block, dc *config.DecodeContext) hcl.Diagnostics {
	content, diags := b.Body.Content(endpointSchema)
	ep.Role, ep.DeclRange = b.Type, b.DefRange
	if a, ok := content.Attributes["driver"]; ok {
		var d hcl.Diagnostics
		ep.Driver, d = dc.OneOf(a, "postgres", "mysql", "csv")
		diags = append(diags, d...)
	}
	if a, ok := content.Attributes["dsn"]; ok {
		var d hcl.Diagnostics
		ep.DSN, d = dc.String(a)
		diags = append(diags, d...)
		ep.DSNRange = a.Expr.Range()
		if !d.HasErrors() && ep.Driver == "csv" {
			if !filepath.IsAbs(ep.DSN) {
				ep.DSN = filepath.Join(dc.Config().Dir, ep.DSN)
			}
		}
	}
	if a, ok := content.Attributes["types"]; ok {
		var d hcl.Diagnostics
		ep.Types, d = dc.StringMap(a)
		diags = append(diags, d...)
		if ep.Driver != "csv" {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unexpected attribute",
				Detail: "types declares the column types of csv files; a database's own column types are read from it.", Subject: a.NameRange.Ptr()})
		}
		for k, v := range ep.Types {
			if _, ok := parseType(v, "csv"); !ok || !strings.Contains(k, ".") {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid column type",
					Detail:  fmt.Sprintf("types must map \"TABLE.COLUMN\" to a type such as \"integer\", \"decimal(12,2)\", \"date\", \"timestamp(6)\", \"boolean\", \"float\" or \"text\"; found %q = %q.", k, v),
					Subject: a.Expr.Range().Ptr()})
			}
		}
	}
	return diags
}

func decodeTable(b *hcl.Block, dc *config.DecodeContext, levels, ignore []string) (*Table, hcl.Diagnostics) {
	content, diags := b.Body.Content(tableSchema)
	t := &Table{Name: b.Labels[0], TargetName: b.Labels[0], Levels: levels, Ignore: ignore, DeclRange: b.DefRange}
	strs := func(name string, into *[]string) *hcl.Range {
		return decodeColumns(content.Attributes[name], dc, into, &diags)
	}
	str := func(name string, into *string) *hcl.Range {
		a, ok := content.Attributes[name]
		if !ok {
			return nil
		}
		v, d := dc.String(a)
		diags = append(diags, d...)
		*into = v
		return a.Expr.Range().Ptr()
	}
	t.KeyRange = strs("key", &t.Key)
	if t.KeyRange != nil && len(t.Key) == 0 {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty key",
			Detail: "key lists the columns that identify a row, such as [\"id\"]; leave it out to use the primary key.", Subject: t.KeyRange})
	}
	t.ColumnsRange = strs("columns", &t.Columns)
	strs("exclude", &t.Exclude)
	t.WhereRange = str("where", &t.Where)
	str("target_where", &t.TargetWhere)
	str("target_table", &t.TargetName)
	if a, ok := content.Attributes["rename"]; ok {
		m, d := dc.StringMap(a)
		diags = append(diags, d...)
		t.Rename = m
		t.RenameRange = a.Expr.Range().Ptr()
	}
	if a, ok := content.Attributes["tolerance"]; ok {
		t.Tolerance = decodeTolerance(a, dc, &diags)
		t.ToleranceRange = a.Expr.Range().Ptr()
	}
	if a, ok := content.Attributes["levels"]; ok {
		t.Levels = decodeLevels(a, dc, &diags)
	}
	if a, ok := content.Attributes["ignore"]; ok {
		t.Ignore = decodeIgnore(a, dc, &diags)
	}
	for _, c := range t.Key {
		if slices.Contains(t.Exclude, c) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Key column excluded",
				Detail: fmt.Sprintf("The key column %q cannot be excluded: rows are matched by it.", c), Subject: t.KeyRange})
		}
	}
	return t, diags
}

// decodeColumns reads a list of column names, refusing one named twice;
// the range is nil when the attribute is absent.
func decodeColumns(a *hcl.Attribute, dc *config.DecodeContext, into *[]string, diags *hcl.Diagnostics) *hcl.Range {
	if a == nil {
		return nil
	}
	v, d := dc.Strings(a)
	*diags = append(*diags, d...)
	*into = v
	r := a.Expr.Range()
	if !d.HasErrors() {
		if dup := firstDuplicate(v); dup != "" {
			*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Duplicate column",
				Detail: fmt.Sprintf("The column %q is listed twice in %s.", dup, a.Name), Subject: &r})
		}
	}
	return &r
}

func decodeTolerance(a *hcl.Attribute, dc *config.DecodeContext, diags *hcl.Diagnostics) map[string]float64 {
	v, d := dc.Value(a)
	*diags = append(*diags, d...)
	if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return nil
	}
	bad := func(detail string) {
		*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid tolerance",
			Detail: detail, Subject: a.Expr.Range().Ptr()})
	}
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		bad("tolerance maps columns to the largest accepted difference, such as { balance = 0.005 }.")
		return nil
	}
	out := map[string]float64{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || e.Type() != cty.Number {
			bad(fmt.Sprintf("The tolerance of %q must be a number, such as 0.005.", k.AsString()))
			continue
		}
		f, _ := e.AsBigFloat().Float64()
		if f < 0 {
			bad(fmt.Sprintf("The tolerance of %q must not be negative; found %g.", k.AsString(), f))
			continue
		}
		out[k.AsString()] = f
	}
	return out
}

func decodeLevels(a *hcl.Attribute, dc *config.DecodeContext, diags *hcl.Diagnostics) []string {
	return decodeChoices(a, dc, diags, Levels, "Unknown level")
}

func decodeIgnore(a *hcl.Attribute, dc *config.DecodeContext, diags *hcl.Diagnostics) []string {
	return decodeChoices(a, dc, diags, ignorable, "Unknown difference")
}

// decodeChoices reads a list whose items must be among allowed.
func decodeChoices(a *hcl.Attribute, dc *config.DecodeContext, diags *hcl.Diagnostics, allowed []string, summary string) []string {
	v, d := dc.Strings(a)
	*diags = append(*diags, d...)
	for _, item := range v {
		if !slices.Contains(allowed, item) {
			*diags = append(*diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
				Detail:  fmt.Sprintf("%s may list %s; found %q.", a.Name, strings.Join(quoted(allowed), ", "), item),
				Subject: a.Expr.Range().Ptr()})
		}
	}
	return v
}

func quoted(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func firstDuplicate(items []string) string {
	seen := map[string]bool{}
	for _, s := range items {
		if seen[s] {
			return s
		}
		seen[s] = true
	}
	return ""
}
