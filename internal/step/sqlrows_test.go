package step

import (
	"fmt"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/testdb"
)

// response.rows reads the same from PostgreSQL (pgx) and MariaDB
// (go-sql-driver, which returns most columns as text), with and without
// args (MySQL's text and binary protocols): the same row of every common
// type gives the same JSON.
func TestSQLRowsReadTheSameFromEveryDriver(t *testing.T) {
	const want = `{"d":9384.8,"dt":"2026-01-02","f":1.5,"i":9007199254740993,"j":"{\"a\": 1}","n":null,"r":0.1,"s":7,"sum":9384.83,"ts":"2026-01-02T03:04:05.123456Z","u":"6b2f6d6e-0000-4000-8000-000000000001","v":"abc "}`
	for _, db := range []struct {
		driver, sqlDriver, placeholder, ddl string
		dsn                                 func(testing.TB) string
		flag                                string
	}{
		{"postgres", "pgx", "$1", "i bigint, s smallint, d numeric(12,2), dt date, ts timestamp(6), v varchar(20), f double precision, r real, n text, j jsonb, u uuid, b boolean", testdb.Postgres, "true"},
		{"mysql", "mysql", "?", "i bigint, s smallint, d decimal(12,2), dt date, ts datetime(6), v varchar(20), f double, r float, n text, j json, u char(36), b tinyint(1)", testdb.MySQL, "1"},
	} {
		t.Run(db.driver, func(t *testing.T) {
			dsn := db.dsn(t)
			table := testdb.Table(t, db.sqlDriver, dsn, "step_types")
			src := fmt.Sprintf(`
variable "dsn" {
  default   = %[1]q
  sensitive = true
}
steps "s" {
  step "create" {
    sql {
      driver = %[2]q
      dsn    = var.dsn
      query  = "CREATE TABLE %[3]s (%[4]s)"
    }
  }
  step "insert" {
    sql {
      driver = %[2]q
      dsn    = var.dsn
      query  = "INSERT INTO %[3]s VALUES (9007199254740993, 7, 9384.80, '2026-01-02', '2026-01-02 03:04:05.123456', 'abc ', 1.5, 0.1, NULL, '{\"a\": 1}', '6b2f6d6e-0000-4000-8000-000000000001', true)"
    }
  }
  step "text" {
    sql {
      driver = %[2]q
      dsn    = var.dsn
      query  = "SELECT i, s, d, d + 0.03 AS sum, dt, ts, v, f, r, n, j, u FROM %[3]s"
    }
    capture {
      row  = jsonencode(response.rows[0])
      flag = jsonencode(response.rows[0])
    }
  }
  step "binary" {
    sql {
      driver = %[2]q
      dsn    = var.dsn
      query  = "SELECT i, s, d, d + 0.03 AS sum, dt, ts, v, f, r, n, j, u, b FROM %[3]s WHERE i = %[5]s"
      args   = [9007199254740993]
    }
    assert {
      condition     = response.rows[0].d == 9384.80 && response.rows[0].sum == 9384.83 && response.rows[0].dt == "2026-01-02"
      error_message = "decimals are numbers, dates are text"
    }
    capture {
      row  = jsonencode({ for k, v in response.rows[0] : k => v if k != "b" })
      flag = jsonencode(response.rows[0].b)
    }
  }
}`, dsn, db.driver, table, db.ddl, db.placeholder)
			outs := runAll(t, "http://127.0.0.1:1", src)
			for i, o := range outs {
				if o.Status != result.Passed {
					t.Fatalf("step %d: %s %s", i, o.Status, o.Message)
				}
			}
			for i, o := range outs[2:] {
				if got := o.Captures["row"].AsString(); got != want {
					t.Errorf("%s: the row reads\n%s\nwant\n%s", []string{"without args", "with args"}[i], got, want)
				}
			}
			// MySQL has no boolean type: BOOLEAN is tinyint(1), and the
			// driver does not say which tinyint a column is.
			if got := outs[3].Captures["flag"].AsString(); got != db.flag {
				t.Errorf("the boolean reads %s, want %s", got, db.flag)
			}
		})
	}
}
