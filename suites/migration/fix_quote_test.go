package migration

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/testdb"
)

// A value fix.sql writes is read back as itself by the database, and no
// part of it runs as SQL: on MySQL whatever the sql_mode (a \' closed the
// literal under NO_BACKSLASH_ESCAPES, and the rest of the value ran), on
// PostgreSQL with a NUL byte (psql cut the line there, and the next
// statement's value ran): that statement is written commented out.
func TestFixLiteralsAreReadBackAsThemselves(t *testing.T) {
	values := []string{"plain", "it's", `x\'); CREATE TABLE pwned(x int); -- `, `back\slash`, "line\nbreak\r", "tab\tz\x1a", "caf\u00e9"}
	for _, c := range []struct{ dialect, driver, dsn string }{
		{"mysql", "mysql", testdb.MySQL(t)},
		{"postgres", "pgx", testdb.Postgres(t)},
	} {
		db, err := sql.Open(c.driver, c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		fw := &fixWriter{dialect: c.dialect}
		modes := []string{""}
		if c.dialect == "mysql" {
			modes = []string{"", "NO_BACKSLASH_ESCAPES"}
		}
		for _, mode := range modes {
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(context.Background(), "SET SESSION sql_mode = '"+mode+"'"); err != nil && c.dialect == "mysql" {
				t.Fatal(err)
			}
			for _, v := range values {
				lit := fw.quote(v)
				var got string
				q := "SELECT " + lit
				if c.dialect == "mysql" {
					q = "SELECT CONVERT(" + lit + " USING utf8mb4)"
				}
				if err := conn.QueryRowContext(context.Background(), q).Scan(&got); err != nil || got != v {
					t.Errorf("%s (sql_mode %q): %s read back as %q, %v; want %q", c.dialect, mode, lit, got, err, v)
				}
			}
			conn.Close()
		}
	}
	fw := &fixWriter{dialect: "postgres"}
	if lit := fw.quote("a\x00b"); lit != nulLiteral {
		t.Errorf("a NUL byte on PostgreSQL: %q", lit)
	}
	dir := t.TempDir()
	fw = newFixWriter(dir, "s", "t", "postgres", nil)
	fw.emit(`INSERT INTO "t" VALUES (1, ` + fw.quote("a\x00b") + `);`)
	fw.emit(`INSERT INTO "t" VALUES (2, ` + fw.quote("'); DROP TABLE t; --") + `);`)
	fw.w.Flush()
	b := string(must(os.ReadFile(fw.tmp)))
	if !strings.HasPrefix(b, "-- a value holds a NUL byte") || strings.ContainsRune(b, 0) || !strings.Contains(b, `VALUES (2, '''); DROP TABLE t; --');`) {
		t.Errorf("fix statements:\n%q", b)
	}
}
