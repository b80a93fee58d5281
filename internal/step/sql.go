package step

import (
	"context"
	"database/sql"
	"fmt"
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
	var args []any
	if q.Args != nil {
		v, diags := q.Args.Value(ectx)
		if diags.HasErrors() {
			return nil, diagError(diags)
		}
		if !v.IsNull() {
			if !v.CanIterateElements() {
				return nil, fmt.Errorf("args must be a list")
			}
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				args = append(args, sqlArg(e))
			}
		}
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
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
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
			row[c] = vals[i]
		}
		res.rows = append(res.rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %s", q.Driver, redact(err))
	}
	res.duration = time.Since(start)
	return res, nil
}

func sqlArg(v cty.Value) any {
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
			obj[c] = ctyValue(normalizeSQL(row[c]))
		}
		rows = append(rows, cty.ObjectVal(obj))
	}
	return cty.ObjectVal(map[string]cty.Value{
		"rows":        cty.TupleVal(rows),
		"row_count":   cty.NumberIntVal(int64(len(r.rows))),
		"duration_ms": cty.NumberFloatVal(float64(r.duration.Microseconds()) / 1000),
	})
}

// normalizeSQL turns driver values into what a reader expects: times as
// RFC 3339 strings, numeric text (MySQL DECIMAL) as numbers when exact.
func normalizeSQL(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		var f float64
		if _, err := fmt.Sscanf(string(x), "%g", &f); err == nil && fmt.Sprint(f) == string(x) {
			return f
		}
		return string(x)
	}
	return v
}
