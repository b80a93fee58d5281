package migration

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// csvSide is a directory of TABLE.csv files, each with a header row: a
// legacy system's export. Files must be sorted by key (checked while they
// stream); \N is NULL, an empty field is an empty string. Column types come
// from the endpoint's types attribute, text by default.
type csvSide struct {
	dir   string
	types map[string]string
}

func openCSV(ep Endpoint) (side, error) {
	st, err := os.Stat(ep.DSN)
	if err != nil {
		return nil, fmt.Errorf("the csv directory cannot be read: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("the csv dsn must be a directory of TABLE.csv files; %s is a file", ep.DSN)
	}
	return &csvSide{dir: ep.DSN, types: ep.Types}, nil
}

func (c *csvSide) dialect() string  { return "csv" }
func (c *csvSide) describe() string { return c.dir }
func (c *csvSide) close() error     { return nil }

var typeRE = regexp.MustCompile(`^([a-z ]+?)\s*(?:\((\d+)(?:\s*,\s*(\d+))?\))?$`)

// parseType reads a declared type such as "decimal(12,2)" or "timestamp(3)".
func parseType(s, _ string) (colType, bool) {
	m := typeRE.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return colType{}, false
	}
	num := func(x string) sql.NullInt64 {
		if x == "" {
			return sql.NullInt64{}
		}
		n, _ := strconv.ParseInt(x, 10, 64)
		return sql.NullInt64{Int64: n, Valid: true}
	}
	name := m[1]
	a, b := num(m[2]), num(m[3])
	var length, prec, scale, frac sql.NullInt64
	switch name {
	case "decimal", "numeric":
		prec, scale = a, b
		if a.Valid && !b.Valid {
			scale = sql.NullInt64{Valid: true}
		}
	case "timestamp", "datetime", "time":
		frac = a
		if !a.Valid {
			frac = sql.NullInt64{Int64: 6, Valid: true}
		}
	case "char", "varchar", "character varying", "character":
		length = a
	case "boolean", "bool", "integer", "int", "bigint", "smallint", "float", "double", "real", "double precision", "date", "text", "bytes":
	default:
		return colType{}, false
	}
	if name == "bytes" {
		name = "bytea"
	}
	if name == "float" {
		name = "double"
	}
	t := dbType(true, name, name, length, prec, scale, frac)
	t.Text = s
	if t.Class == cDecimal && !prec.Valid {
		t.Scale = -1
	}
	return t, t.Class != cOther
}

func (c *csvSide) path(table string) string { return filepath.Join(c.dir, table+".csv") }

func (c *csvSide) open(table string) (*os.File, *csv.Reader, []string, error) {
	f, err := os.Open(c.path(table))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil, errNoTable
	}
	if err != nil {
		return nil, nil, nil, err
	}
	r := csv.NewReader(f)
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("%s: reading the header row: %w", c.path(table), err)
	}
	header = append([]string(nil), header...)
	if len(header) > 0 {
		// A byte order mark (Excel's UTF-8 exports) is no part of the
		// first column's name.
		header[0] = strings.TrimPrefix(header[0], "\uFEFF")
	}
	return f, r, header, nil
}

func (c *csvSide) columns(_ context.Context, table string) ([]column, error) {
	f, _, header, err := c.open(table)
	if err != nil {
		return nil, err
	}
	f.Close()
	// A type given for a column the file does not have is a typo: the
	// column it meant would be compared as text.
	for name := range c.types {
		tbl, col, ok := strings.Cut(name, ".")
		if ok && tbl == table && !slices.Contains(header, col) {
			return nil, fmt.Errorf("types names %q, but %s has no column %q (its columns: %s)", name, c.path(table), col, strings.Join(header, ", "))
		}
	}
	out := make([]column, len(header))
	for i, h := range header {
		t := colType{Text: "text", Class: cText, Scale: -1}
		if decl, ok := c.types[table+"."+h]; ok {
			t, _ = parseType(decl, "csv")
		}
		t.Nullable = true
		out[i] = column{name: h, t: t}
	}
	return out, nil
}

func (c *csvSide) uniqueKeys(context.Context, string) ([]uniqueKey, error) { return nil, nil }

func noWhere(where string) error {
	if where != "" {
		return errors.New("where cannot select rows of a csv file; export the rows to compare")
	}
	return nil
}

func (c *csvSide) count(ctx context.Context, table, where string) (int64, error) {
	if err := noWhere(where); err != nil {
		return 0, err
	}
	f, r, _, err := c.open(table)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var n int64
	for {
		_, err := r.Read()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("%s: %w", c.path(table), err)
		}
		n++
	}
}

func (c *csvSide) aggregates(ctx context.Context, table, where string, cols []column) ([]aggregate, error) {
	q := rowQuery{table: table, where: where}
	accs := make([]*aggAcc, len(cols))
	for i := range cols {
		q.cols = append(q.cols, cols[i].name)
		q.types = append(q.types, &cols[i].t)
		accs[i] = newAggAcc(&cols[i].t)
	}
	it, err := c.rows(ctx, q)
	if err != nil {
		return nil, err
	}
	defer it.close()
	dest := make([]any, len(cols))
	for {
		ok, err := it.next(dest)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		for i := range dest {
			v, err := canon(q.types[i], dest[i])
			if err != nil {
				return nil, fmt.Errorf("%scolumn %q: %w", at(it), cols[i].name, err)
			}
			accs[i].add(v)
		}
	}
	out := make([]aggregate, len(cols))
	for i, a := range accs {
		out[i] = a.result()
	}
	return out, nil
}

func (c *csvSide) keyBounds(context.Context, string, string, string) (int64, int64, bool, error) {
	return 0, 0, false, nil
}

func (c *csvSide) checksum(context.Context, rowQuery) (int64, string, bool, error) {
	return 0, "", false, nil
}

func (c *csvSide) rows(_ context.Context, q rowQuery) (rowIter, error) {
	if err := noWhere(q.where); err != nil {
		return nil, err
	}
	f, r, header, err := c.open(q.table)
	if err != nil {
		return nil, err
	}
	idx := make([]int, len(q.cols))
	for i, col := range q.cols {
		idx[i] = -1
		for j, h := range header {
			if h == col {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			f.Close()
			return nil, fmt.Errorf("%s has no column %q", c.path(q.table), col)
		}
	}
	return &csvRows{f: f, r: r, idx: idx, path: c.path(q.table)}, nil
}

type csvRows struct {
	f    *os.File
	r    *csv.Reader
	idx  []int
	path string
	line int // of the last row read
}

// pos is the file and line of the last row read (positioned).
func (r *csvRows) pos() (string, int) { return r.path, r.line }

func (r *csvRows) where() string { return fmt.Sprintf("%s line %d", r.path, r.line) }

func (r *csvRows) next(dest []any) (bool, error) {
	rec, err := r.r.Read()
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", r.path, err)
	}
	r.line, _ = r.r.FieldPos(0)
	for i, j := range r.idx {
		if j >= len(rec) {
			return false, fmt.Errorf("%s: the row has %d fields, the header %d", r.where(), len(rec), len(r.idx))
		}
		if rec[j] == `\N` {
			dest[i] = nil
		} else {
			dest[i] = strings.Clone(rec[j])
		}
	}
	return true, nil
}

func (r *csvRows) close() error { return r.f.Close() }
