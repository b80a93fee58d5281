package migration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
)

func TestBadInputIsNamedOnItsLineAndTheRestOfTheRunGoesOn(t *testing.T) {
	pg := openDB(t, "postgres")
	acc, accT := pg.table(t, "bad_s"), pg.table(t, "bad_t")
	plantAccounts(t, pg, acc, false)
	plantAccounts(t, pg, accT, false)
	// A port nothing listens on, with a password that must not leak.
	unreachable := "postgres://cloudtest:s3cret-pw@127.0.0.1:1/cloudtest?sslmode=disable&connect_timeout=2"
	src := fmt.Sprintf(`
variable "dsn" { sensitive = true }
variable "down" { sensitive = true }

migration "broken" {
  component = "core-ledger"
  source {
    driver = "postgres"
    dsn    = var.dsn
  }
  target {
    driver = "postgres"
    dsn    = var.dsn
  }
  table "no_such_table" {}
  table %[1]q {
    target_table = %[2]q
    rename       = { nope = "owner" }
  }
}

migration "dupkey" {
  component = "core-ledger"
  source {
    driver = "postgres"
    dsn    = var.dsn
  }
  target {
    driver = "postgres"
    dsn    = var.dsn
  }
  table %[1]q {
    target_table = %[2]q
    key          = ["active"]
    levels       = ["rows"]
  }
}

migration "down" {
  component = "core-ledger"
  source {
    driver = "postgres"
    dsn    = var.down
  }
  target {
    driver = "postgres"
    dsn    = var.dsn
  }
  tables = [%[1]q]
}

migration "fine" {
  component = "core-ledger"
  source {
    driver = "postgres"
    dsn    = var.dsn
  }
  target {
    driver = "postgres"
    dsn    = var.dsn
  }
  table %[1]q { target_table = %[2]q }
}
`, acc, accT)
	r := runSuite(t, src, "dsn="+pg.dsn, "down="+unreachable)

	if st := r.suites["fine"].Status; st != result.Passed {
		t.Errorf("the good suite is %s (%s): bad input elsewhere must not spoil it", st, r.suites["fine"].Message)
	}
	if st := r.suites["broken"].Status; st != result.Errored {
		t.Errorf("broken suite is %s, want error", st)
	}
	missing := r.table(t, "broken", "no_such_table")
	if want := fmt.Sprintf("suite.hcl line %d: the table \"no_such_table\" does not exist on the source", lineOf(src, `table "no_such_table"`)); !strings.Contains(missing.Error, want) {
		t.Errorf("missing table error %q, want %q", missing.Error, want)
	}
	renamed, dupKey := r.table(t, "broken", acc), r.table(t, "dupkey", acc)
	if want := fmt.Sprintf("suite.hcl line %d: rename: the source table %q has no column \"nope\"", lineOf(src, "rename"), acc); !strings.Contains(renamed.Error, want) {
		t.Errorf("rename error %q, want %q", renamed.Error, want)
	}
	rows := level(t, dupKey, LevelRows)
	if want := fmt.Sprintf("suite.hcl line %d: the key (active) is not unique: 198 more rows with a key already seen on the source, 198 on the target", lineOf(src, `key          = ["active"]`)); rows.Status != result.Failed || !strings.Contains(strings.Join(rows.Findings, "\n"), want) {
		t.Errorf("a key that is not unique: %s %s %v, want %q", rows.Status, rows.Message, rows.Findings, want)
	}
	down := r.table(t, "down", acc)
	if want := fmt.Sprintf("suite.hcl line %d: source: cannot connect to postgres at 127.0.0.1:1/", lineOf(src, "dsn    = var.down")-2); !strings.Contains(down.Error, want) {
		t.Errorf("unreachable database: %q, want %q", down.Error, want)
	}
	for _, l := range down.Levels {
		if l.Status != result.Errored {
			t.Errorf("unreachable database: level %s is %s", l.Level, l.Status)
		}
	}
	assertNoSecret(t, r.dir, "s3cret-pw", "cloudtest:cloudtest")
}

func TestDecodeErrorsNameTheLine(t *testing.T) {
	src := `
migration "m" {
  component = "core"
  source {
    driver = "oracle"
    dsn    = "x"
  }
  levels = ["rows", "everything"]
  table "t" {
    tolerance = { balance = -1 }
    key       = []
    ignore    = ["typos"]
  }
}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	want := map[string]int{
		`must be one of "postgres", "mysql" or "csv"; found "oracle"`: lineOf(src, "oracle"),
		`found "everything"`:    lineOf(src, "everything"),
		`must not be negative`:  lineOf(src, "tolerance"),
		`key lists the columns`: lineOf(src, "key       = []"),
		`found "typos"`:         lineOf(src, "typos"),
		`needs a target block`:  0,
	}
	for _, d := range diags {
		for w, line := range want {
			if strings.Contains(d.Detail, w) {
				if d.Subject == nil || (line > 0 && d.Subject.Start.Line != line) {
					t.Errorf("%q on %v, want line %d", w, d.Subject, line)
				}
				delete(want, w)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("diagnostics missing: %v\n%s", want, diags.Error())
	}
}

func TestDecimalScaleIsNamedAndCanBeAccepted(t *testing.T) {
	pg := openDB(t, "postgres")
	s, tg := pg.table(t, "fee_s"), pg.table(t, "fee_t")
	// numeric without a scale keeps each value's own: 1.50 and 1.5 are equal
	// in value but not written alike.
	pg.exec(t, "CREATE TABLE "+s+" (id int PRIMARY KEY, fee numeric)", "INSERT INTO "+s+" VALUES (1, 1.50), (2, 2.25)",
		"CREATE TABLE "+tg+" (id int PRIMARY KEY, fee numeric)", "INSERT INTO "+tg+" VALUES (1, 1.5), (2, 2.25)")
	src := fmt.Sprintf(`
variable "dsn" { sensitive = true }
migration "strict" {
  component = "core-ledger"
  source {
    driver = "postgres"
    dsn    = var.dsn
  }
  target {
    driver = "postgres"
    dsn    = var.dsn
  }
  checksum = false
  table %[1]q { target_table = %[2]q }
}
migration "lenient" {
  component = "core-ledger"
  source {
    driver = "postgres"
    dsn    = var.dsn
  }
  target {
    driver = "postgres"
    dsn    = var.dsn
  }
  table %[1]q {
    target_table = %[2]q
    ignore       = ["decimal scale"]
  }
}
`, s, tg)
	r := runSuite(t, src, "dsn="+pg.dsn)
	strict := r.table(t, "strict", s)
	if strict.Changed != 1 || strict.Reasons[ReasonDecimalScale] != 1 {
		t.Errorf("strict: changed %d reasons %v, want one decimal scale", strict.Changed, strict.Reasons)
	}
	if st := r.suites["lenient"].Status; st != result.Passed {
		t.Errorf("lenient: %s %s", st, r.suites["lenient"].Message)
	}
}
