package migration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// column is one column of a table as one side declares it.
type column struct {
	name string
	t    colType
}

// uniqueKey is a primary key or a unique index.
type uniqueKey struct {
	primary bool
	cols    []string
}

// rowQuery selects the rows of one key range in key order.
type rowQuery struct {
	table, where string
	key          []string // key columns, in order
	cols         []string // every selected column: the key first
	types        []*colType
	// lo and hi bound an integer key (lo <= key < hi) when ranged.
	ranged bool
	lo, hi int64
	last   bool // the last range: key <= hi
}

// side is one database: PostgreSQL or MySQL through database/sql, or a
// directory of CSV files.
type side interface {
	dialect() string
	describe() string
	columns(ctx context.Context, table string) ([]column, error)
	uniqueKeys(ctx context.Context, table string) ([]uniqueKey, error)
	count(ctx context.Context, table, where string) (int64, error)
	aggregates(ctx context.Context, table, where string, cols []column) ([]aggregate, error)
	// keyBounds returns the smallest and largest value of an integer key
	// column; ok is false when the side cannot tell (no rows, csv).
	keyBounds(ctx context.Context, table, where, key string) (lo, hi int64, ok bool, err error)
	rows(ctx context.Context, q rowQuery) (rowIter, error)
	// checksum returns the row count and a checksum of the rows of a range
	// (ok false when the side cannot checksum).
	checksum(ctx context.Context, q rowQuery) (n int64, sum string, ok bool, err error)
	close() error
}

// rowIter yields raw driver values; the comparison canonicalizes them.
type rowIter interface {
	next(dest []any) (bool, error)
	close() error
}

// open connects to an endpoint. secrets gets the DSN's password, so that
// it is redacted wherever an error might carry it.
func open(ctx context.Context, ep Endpoint, conns int, secrets *[]string) (side, error) {
	switch ep.Driver {
	case "postgres":
		pc, err := pgx.ParseConfig(ep.DSN)
		if err != nil {
			return nil, fmt.Errorf("the dsn is not a PostgreSQL connection string: %s", redactParse(err))
		}
		if pc.Password != "" {
			*secrets = append(*secrets, pc.Password)
		}
		// Times in UTC, as on the MySQL side, for to_char in checksums.
		pc.RuntimeParams["timezone"] = "UTC"
		s := &sqlSide{db: stdlib.OpenDB(*pc), pg: true, where: fmt.Sprintf("%s:%d/%s", pc.Host, pc.Port, pc.Database)}
		return s, s.ping(ctx, conns)
	case "mysql":
		mc, err := mysql.ParseDSN(ep.DSN)
		if err != nil {
			return nil, fmt.Errorf("the dsn is not a MySQL connection string (user:password@tcp(host:port)/database): %s", redactParse(err))
		}
		if mc.Passwd != "" {
			*secrets = append(*secrets, mc.Passwd)
		}
		// Times come back as time.Time in UTC, TIMESTAMP columns in UTC too.
		mc.ParseTime, mc.Loc = true, time.UTC
		if mc.Params == nil {
			mc.Params = map[string]string{}
		}
		mc.Params["time_zone"] = "'+00:00'"
		conn, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, err
		}
		s := &sqlSide{db: sql.OpenDB(conn), where: mc.Addr + "/" + mc.DBName}
		return s, s.ping(ctx, conns)
	case "csv":
		return openCSV(ep)
	}
	return nil, fmt.Errorf("unknown driver %q", ep.Driver)
}

// redactParse keeps a parser's message but not the DSN it may quote.
func redactParse(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && strings.Contains(msg[:i], "cannot parse") {
		return msg[i+2:]
	}
	return msg
}

type sqlSide struct {
	db    *sql.DB
	pg    bool
	where string
}

func (s *sqlSide) ping(ctx context.Context, conns int) error {
	s.db.SetMaxOpenConns(conns + 2)
	s.db.SetMaxIdleConns(conns + 2)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.db.PingContext(pctx); err != nil {
		s.db.Close()
		return fmt.Errorf("cannot connect to %s at %s: %w", s.dialect(), s.where, err)
	}
	return nil
}

func (s *sqlSide) dialect() string {
	if s.pg {
		return "postgres"
	}
	return "mysql"
}

func (s *sqlSide) describe() string { return s.where }

func (s *sqlSide) close() error { return s.db.Close() }

func (s *sqlSide) ident(name string) string {
	if s.pg {
		return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	}
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// table quotes schema.table or table.
func (s *sqlSide) table(name string) string {
	if sch, t, ok := strings.Cut(name, "."); ok {
		return s.ident(sch) + "." + s.ident(t)
	}
	return s.ident(name)
}

func splitTable(name string) (schema sql.NullString, table string) {
	if sch, t, ok := strings.Cut(name, "."); ok {
		return sql.NullString{String: sch, Valid: true}, t
	}
	return sql.NullString{}, name
}

var errNoTable = errors.New("no such table")

func (s *sqlSide) columns(ctx context.Context, table string) ([]column, error) {
	sch, name := splitTable(table)
	q := `SELECT column_name, data_type, is_nullable, character_maximum_length, numeric_precision, numeric_scale, datetime_precision, udt_name
FROM information_schema.columns WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2 ORDER BY ordinal_position`
	if !s.pg {
		q = `SELECT column_name, data_type, is_nullable, character_maximum_length, numeric_precision, numeric_scale, datetime_precision, column_type
FROM information_schema.columns WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? ORDER BY ordinal_position`
	}
	rows, err := s.db.QueryContext(ctx, q, sch, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []column
	for rows.Next() {
		var (
			cname, dtype, nullable, full string
			length, prec, scale, frac    sql.NullInt64
		)
		if err := rows.Scan(&cname, &dtype, &nullable, &length, &prec, &scale, &frac, &full); err != nil {
			return nil, err
		}
		t := dbType(s.pg, strings.ToLower(dtype), strings.ToLower(full), length, prec, scale, frac)
		t.Nullable = nullable == "YES"
		out = append(out, column{name: cname, t: t})
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errNoTable
	}
	return out, nil
}

// dbType maps an information_schema column to a type class.
// intBytes are the integer types by name and their size in bytes.
var intBytes = map[string]int{"tinyint": 1, "smallint": 2, "int2": 2, "year": 2, "mediumint": 3,
	"integer": 4, "int": 4, "int4": 4, "bigint": 8, "int8": 8}

func dbType(pg bool, dtype, full string, length, prec, scale, frac sql.NullInt64) colType {
	t := colType{Text: dtype, Scale: -1, Class: cOther} // unless a case below says otherwise
	if !pg && full != "" {
		t.Text = full
	}
	t.Unsigned = strings.Contains(full, "unsigned")
	if n, ok := intBytes[dtype]; ok {
		t.Class, t.Bytes = cInt, n
		if dtype == "tinyint" && strings.HasPrefix(full, "tinyint(1)") {
			t.Class = cBool // MySQL's boolean
		}
		return t
	}
	switch dtype {
	case "numeric", "decimal":
		t.Class = cDecimal
		if prec.Valid {
			t.Precision = int(prec.Int64)
			t.Text = fmt.Sprintf("%s(%d,%d)", dtype, prec.Int64, scale.Int64)
			t.Scale = int(scale.Int64)
		}
	case "real", "float", "float4":
		t.Class, t.Float32 = cFloat, true
	case "double precision", "double", "float8":
		t.Class = cFloat
	case "boolean", "bool", "bit":
		t.Class = cBool
	case "date":
		t.Class = cDate
	case "timestamp without time zone", "timestamp with time zone", "timestamp", "datetime":
		t.Class, t.Frac = cTimestamp, 6
		if frac.Valid {
			t.Frac = int(frac.Int64)
		}
		if pg {
			t.Text = fmt.Sprintf("%s(%d)", dtype, t.Frac)
		}
	case "time without time zone", "time":
		t.Class, t.Frac = cTime, 6
		if frac.Valid {
			t.Frac = int(frac.Int64)
		}
	case "character varying", "varchar", "text", "tinytext", "mediumtext", "longtext", "char", "character", "enum", "set", "json", "jsonb", "uuid", "citext":
		t.Class = cText
		t.Padded = dtype == "char" || dtype == "character"
		if length.Valid && length.Int64 > 0 && !strings.HasSuffix(dtype, "text") {
			t.Length = length.Int64
			if pg {
				t.Text = fmt.Sprintf("%s(%d)", dtype, length.Int64)
			}
		}
	case "bytea", "binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob":
		t.Class = cBytes
		if length.Valid && length.Int64 > 0 && !strings.HasSuffix(dtype, "blob") {
			t.Length = length.Int64
		}
	}
	return t
}

func (s *sqlSide) uniqueKeys(ctx context.Context, table string) ([]uniqueKey, error) {
	var rows *sql.Rows
	var err error
	if s.pg {
		rows, err = s.db.QueryContext(ctx, `SELECT i.indexrelid::text, i.indisprimary, a.attname
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indrelid = $1::regclass AND i.indisunique
ORDER BY i.indexrelid, array_position(i.indkey::int2[], a.attnum)`, s.table(table))
	} else {
		sch, name := splitTable(table)
		rows, err = s.db.QueryContext(ctx, `SELECT index_name, index_name = 'PRIMARY', column_name FROM information_schema.statistics
WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? AND non_unique = 0 ORDER BY index_name, seq_in_index`, sch, name)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uniqueKey
	last := ""
	for rows.Next() {
		var idx, col string
		var primary bool
		if err := rows.Scan(&idx, &primary, &col); err != nil {
			return nil, err
		}
		if idx != last || len(out) == 0 {
			out = append(out, uniqueKey{primary: primary})
			last = idx
		}
		out[len(out)-1].cols = append(out[len(out)-1].cols, col)
	}
	return out, rows.Err()
}

func (s *sqlSide) whereClause(where string, extra ...string) string {
	var parts []string
	if where != "" {
		parts = append(parts, "("+where+")")
	}
	parts = append(parts, extra...)
	if len(parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(parts, " AND ")
}

func (s *sqlSide) count(ctx context.Context, table, where string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.table(table)+s.whereClause(where)).Scan(&n)
	return n, err
}

func (s *sqlSide) keyBounds(ctx context.Context, table, where, key string) (int64, int64, bool, error) {
	var lo, hi sql.NullInt64
	k := s.ident(key)
	err := s.db.QueryRowContext(ctx, "SELECT MIN("+k+"), MAX("+k+") FROM "+s.table(table)+s.whereClause(where)).Scan(&lo, &hi)
	if err != nil {
		return 0, 0, false, err
	}
	return lo.Int64, hi.Int64, lo.Valid && hi.Valid, nil
}

// orderExpr orders a key column by bytes for text, so that both engines
// agree whatever their collations.
func (s *sqlSide) orderExpr(name string, t *colType) string {
	id := s.ident(name)
	if t.Class == cText || t.Class == cOther {
		if s.pg {
			id += ` COLLATE "C"`
		} else {
			id = "BINARY " + id
		}
	}
	// NULL first, as MySQL sorts it and as the merge expects (only where a
	// NULL can be: NULLS FIRST would keep PostgreSQL from reading the
	// primary key's index in order).
	if s.pg && t.Nullable {
		id += " NULLS FIRST"
	}
	return id
}

func (s *sqlSide) rangeCond(q rowQuery) []string {
	if !q.ranged {
		return nil
	}
	k := s.ident(q.key[0])
	cond := []string{k + " >= " + strconv.FormatInt(q.lo, 10)}
	if q.last {
		cond = append(cond, k+" <= "+strconv.FormatInt(q.hi, 10))
	} else {
		cond = append(cond, k+" < "+strconv.FormatInt(q.hi, 10))
	}
	return cond
}

func (s *sqlSide) rows(ctx context.Context, q rowQuery) (rowIter, error) {
	sel := make([]string, len(q.cols))
	for i, c := range q.cols {
		sel[i] = s.ident(c)
	}
	order := make([]string, len(q.key))
	for i, k := range q.key {
		order[i] = s.orderExpr(k, q.types[i])
	}
	stmt := "SELECT " + strings.Join(sel, ", ") + " FROM " + s.table(q.table) + s.whereClause(q.where, s.rangeCond(q)...) +
		" ORDER BY " + strings.Join(order, ", ")
	rows, err := s.db.QueryContext(ctx, stmt)
	if err != nil {
		return nil, err
	}
	return &sqlRows{rows: rows, ptrs: make([]any, len(q.cols))}, nil
}

type sqlRows struct {
	rows *sql.Rows
	ptrs []any
}

func (r *sqlRows) next(dest []any) (bool, error) {
	if !r.rows.Next() {
		return false, r.rows.Err()
	}
	for i := range dest {
		r.ptrs[i] = &dest[i]
	}
	return true, r.rows.Scan(r.ptrs...)
}

func (r *sqlRows) close() error { return r.rows.Close() }

// checksummable says whether a column's class has a text form both
// engines write alike in SQL; a table with any other is compared row by row.
func checksummable(c class) bool { return c != cTime && c != cOther }

// canonExpr writes a column as text in SQL, the same text on PostgreSQL
// and MySQL for the same canonical value: integers and decimals as
// written, booleans as 1 or 0, dates and timestamps in ISO form with
// microseconds (in UTC: both sessions are set to it), bytes in hex.
func (s *sqlSide) canonExpr(name string, t *colType) string {
	id := s.ident(name)
	if s.pg {
		switch t.Class {
		case cBool:
			return id + "::int::text"
		case cDate:
			return "to_char(" + id + ", 'YYYY-MM-DD')"
		case cTimestamp:
			return "to_char(" + id + ", 'YYYY-MM-DD HH24:MI:SS.US')"
		case cBytes:
			return "encode(" + id + ", 'hex')"
		}
		return id + "::text"
	}
	switch t.Class {
	case cDate:
		return "DATE_FORMAT(" + id + ", '%Y-%m-%d')"
	case cTimestamp:
		return "DATE_FORMAT(" + id + ", '%Y-%m-%d %H:%i:%s.%f')"
	case cBytes:
		return "LOWER(HEX(" + id + "))"
	}
	return "CAST(" + id + " AS CHAR)"
}

// checksum returns the row count and the sum of the first 60 bits of each
// row's md5 over a range, computed in the database (pt-table-checksum and
// sync-diff-inspector checksum chunks the same way, with CRC32 and
// BIT_XOR; a sum also catches a row that appears twice). Each row is
// written as the canonical text of its columns, each one NULL-marked and
// length-prefixed, so the same rows give the same sum on PostgreSQL and on
// MySQL; any difference in the texts only makes the range be fetched.
func (s *sqlSide) checksum(ctx context.Context, q rowQuery) (int64, string, bool, error) {
	parts := make([]string, len(q.cols))
	for i, c := range q.cols {
		if !checksummable(q.types[i].Class) {
			return 0, "", false, nil
		}
		e := s.canonExpr(c, q.types[i])
		if s.pg {
			parts[i] = "CASE WHEN " + s.ident(c) + " IS NULL THEN 'N' ELSE 'V' || length(" + e + ") || ':' || " + e + " END"
		} else {
			parts[i] = "IF(" + s.ident(c) + " IS NULL, 'N', CONCAT('V', CHAR_LENGTH(" + e + "), ':', " + e + "))"
		}
	}
	var expr string
	if s.pg {
		expr = "COALESCE(SUM(('x' || substr(md5(" + strings.Join(parts, " || '|' || ") + "), 1, 15))::bit(60)::bigint), 0)::text"
	} else {
		expr = "CAST(COALESCE(SUM(CAST(CONV(SUBSTRING(MD5(CONCAT_WS('|', " + strings.Join(parts, ", ") + ")), 1, 15), 16, 10) AS UNSIGNED)), 0) AS CHAR)"
	}
	var n int64
	var sum string
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*), "+expr+" FROM "+s.table(q.table)+s.whereClause(q.where, s.rangeCond(q)...)).Scan(&n, &sum)
	return n, sum, err == nil, err
}
