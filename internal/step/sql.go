package step

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql" // driver "mysql"
	"github.com/hashicorp/hcl/v2"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"github.com/zclconf/go-cty/cty"

	"github.com/cloudtest/cloudtest/internal/config"
)

// SQLQuery is a sql block: one statement on PostgreSQL (pgx) or a
// MySQL-protocol database (MySQL, MariaDB).
type SQLQuery struct {
	Driver    string // postgres | mysql
	DSN       hcl.Expression
	Query     hcl.Expression
	Args      hcl.Expression
	Timeout   time.Duration
	DeclRange hcl.Range
}

var sqlSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "driver", Required: true}, {Name: "dsn", Required: true}, {Name: "query", Required: true},
	{Name: "args"}, {Name: "timeout"},
}}

func decodeSQL(b *hcl.Block, dc *config.DecodeContext, r roots) (*SQLQuery, hcl.Diagnostics) {
	content, diags := b.Body.Content(sqlSchema)
	q := &SQLQuery{Timeout: 30 * time.Second, DeclRange: b.DefRange}
	if a, ok := content.Attributes["driver"]; ok {
		var d hcl.Diagnostics
		q.Driver, d = dc.OneOf(a, "postgres", "mysql")
		diags = append(diags, d...)
	}
	late := lateAttrs(content, dc, r.request, &diags)
	q.DSN, q.Query, q.Args = late("dsn"), late("query"), late("args")
	if a, ok := content.Attributes["timeout"]; ok {
		d, dd := dc.Duration(a)
		diags = append(diags, dd...)
		q.Timeout = d
	}
	return q, diags
}

// DBPool shares one *sql.DB per driver and DSN for the steps of a suite.
type DBPool struct {
	mu  sync.Mutex
	dbs map[string]pooled
}

// NewDBPool returns an empty pool.
func NewDBPool() *DBPool { return &DBPool{dbs: map[string]pooled{}} }

// get returns the handle of driver and dsn, and the password it sends;
// secrets are the values that may have been interpolated into the DSN
// (see openDSN).
func (p *DBPool) get(driver, dsn string, secrets []string) (*sql.DB, string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := driver + "\x00" + dsn
	if db, ok := p.dbs[key]; ok {
		return db.db, db.password, nil
	}
	db, password, err := openDSN(driver, dsn, secrets)
	if err != nil {
		return nil, "", err
	}
	p.dbs[key] = pooled{db, password}
	return db, password, nil
}

type pooled struct {
	db       *sql.DB
	password string
}

// Close closes every database handle.
func (p *DBPool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first error
	for k, db := range p.dbs {
		if err := db.db.Close(); err != nil && first == nil {
			first = err
		}
		delete(p.dbs, k)
	}
	return first
}

type sqlResult struct {
	query    string
	args     []any
	rows     []map[string]any
	columns  []string
	duration time.Duration
}

func (q *SQLQuery) do(ctx context.Context, env *Env, ectx *hcl.EvalContext, redactor func() *Redactor) (*sqlResult, error) {
	dsn, err := evalString(q.DSN, ectx, "dsn")
	if err != nil {
		return nil, err
	}
	query, err := evalString(q.Query, ectx, "query")
	if err != nil {
		return nil, err
	}
	args, err := q.evalArgs(ectx)
	if err != nil {
		return nil, err
	}
	red := redactor()
	db, password, err := env.DB.get(q.Driver, dsn, red.Secrets())
	if err != nil {
		return nil, fmt.Errorf("opening %s: %s", q.Driver, red.String(err.Error()))
	}
	// The password the driver sends is a secret even when it was written
	// in the DSN as it is; a redactor that knows it is built on an error only.
	redact := func(err error) string { return red.With(password).String(err.Error()) }
	qctx, cancel := context.WithTimeout(ctx, q.Timeout)
	defer cancel()
	start := time.Now()
	rows, err := db.QueryContext(qctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", q.Driver, redact(err))
	}
	defer rows.Close()
	res, err := scanRows(rows, query, args)
	if err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %s", q.Driver, redact(err))
	}
	res.duration = time.Since(start)
	return res, nil
}

// evalArgs are the query's args as the driver takes them (nil for none).
func (q *SQLQuery) evalArgs(ectx *hcl.EvalContext) ([]any, error) {
	if q.Args == nil {
		return nil, nil
	}
	v, diags := q.Args.Value(ectx)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	var args []any
	if !v.IsNull() {
		if !v.CanIterateElements() {
			return nil, fmt.Errorf("args must be a list")
		}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			args = append(args, sqlArg(e))
		}
	}
	return args, nil
}

// scanRows reads rows into a result, each row by column name, its values
// normalized by the column's database type. The caller checks rows.Err.
func scanRows(rows *sql.Rows, query string, args []any) (*sqlResult, error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	cols, types := make([]string, len(cts)), make([]string, len(cts))
	for i, ct := range cts {
		cols[i], types[i] = ct.Name(), strings.ToUpper(ct.DatabaseTypeName())
	}
	res := &sqlResult{query: query, args: args, columns: cols}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := map[string]any{}
		for i, c := range cols {
			row[c] = normalizeSQL(types[i], vals[i])
		}
		res.rows = append(res.rows, row)
	}
	return res, nil
}

func sqlArg(v cty.Value) any {
	// An integer goes as an integer, exactly: through float64 a key past
	// 2^53 (9007199254740993) would become its neighbour.
	if v.Type() == cty.Number && v.IsKnown() && !v.IsNull() {
		if bf := v.AsBigFloat(); bf.IsInt() {
			if i, acc := bf.Int64(); acc == big.Exact {
				return i
			}
		}
	}
	g := goValue(v)
	if f, ok := g.(float64); ok && f == float64(int64(f)) {
		return int64(f)
	}
	return g
}

func (r *sqlResult) response() cty.Value {
	rows := make([]cty.Value, 0, len(r.rows))
	for _, row := range r.rows {
		obj := map[string]cty.Value{}
		for _, c := range r.columns {
			obj[c] = ctyValue(row[c])
		}
		rows = append(rows, cty.ObjectVal(obj))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"rows":        cty.TupleVal(rows),
		"row_count":   cty.NumberIntVal(int64(len(r.rows))),
		"duration_ms": cty.NumberFloatVal(float64(r.duration.Microseconds()) / 1000),
	})
}

// normalizeSQL turns what a driver returned for a column of the given
// database type into one form whatever the driver, so that response.rows
// read the same from PostgreSQL (pgx) and MySQL/MariaDB (go-sql-driver,
// which returns most columns as text): integers and floats as numbers,
// DECIMAL/NUMERIC as exact numbers (PostgreSQL's numeric came as the string
// "9384.83", MySQL's decimal as a number), FLOAT4/FLOAT in their float32
// shortest form (0.1, not 0.10000000149011612), DATE as 2006-01-02,
// DATETIME/TIMESTAMP as RFC 3339 in UTC with the fraction the value has,
// text and JSON as strings, NULL as null. docs/steps.md lists the types.
func normalizeSQL(dbType string, v any) any {
	if v == nil {
		return nil
	}
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	switch dbType {
	case "NUMERIC", "DECIMAL", "NEWDECIMAL":
		if s, ok := v.(string); ok {
			if _, err := cty.ParseNumberVal(s); err == nil {
				return decimalText(s)
			}
		}
	case "FLOAT4", "FLOAT":
		var f32 float32
		switch x := v.(type) {
		case float64:
			f32 = float32(x)
		case float32:
			f32 = x
		default:
			return v
		}
		f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f32), 'g', -1, 32), 64)
		return f
	case "DATE":
		if t, ok := v.(time.Time); ok {
			return t.Format(time.DateOnly)
		}
	case "DATETIME", "TIMESTAMP", "TIMESTAMPTZ":
		if s, ok := v.(string); ok {
			// MySQL's text form, in the driver's location (UTC unless
			// the DSN says loc=…): the same instant as pgx's time.Time.
			if t, err := time.ParseInLocation("2006-01-02 15:04:05.999999999", s, time.UTC); err == nil {
				return t.UTC().Format(time.RFC3339Nano)
			}
		}
	}
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float32:
		return float64(x)
	case string:
		// Integers of the text protocol (MySQL without args) are numbers.
		if isIntegerType(dbType) {
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n
			}
		}
	}
	return v
}

// decimalText is an exact decimal as the database wrote it (its scale
// kept for the excerpt); in HCL it is a number.
type decimalText string

func isIntegerType(t string) bool {
	switch t {
	case "INT", "INT2", "INT4", "INT8", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT", "YEAR",
		"UNSIGNED INT", "UNSIGNED BIGINT", "UNSIGNED SMALLINT", "UNSIGNED TINYINT", "UNSIGNED MEDIUMINT":
		return true
	}
	return false
}
