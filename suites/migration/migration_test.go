package migration

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/report"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/testdb"
)

// ran is what one run of a migration suite left in the run directory.
type ran struct {
	results []result.Result
	suites  map[string]result.Result
	sums    map[string]result.MigrationSummary
	dir     string
}

func (r ran) table(t *testing.T, suite, name string) result.TableCheck {
	t.Helper()
	for _, tc := range r.sums[suite].Tables {
		if tc.Name == name {
			return tc
		}
	}
	t.Fatalf("suite %s has no table %s: %+v", suite, name, r.sums[suite])
	return result.TableCheck{}
}

func level(t *testing.T, tc result.TableCheck, name string) result.LevelCheck {
	t.Helper()
	for _, l := range tc.Levels {
		if l.Level == name {
			return l
		}
	}
	t.Fatalf("table %s has no level %s", tc.Name, name)
	return result.LevelCheck{}
}

// runSuite writes src to a directory, loads it with vars and runs it for
// real against the databases.
func runSuite(t *testing.T, src string, vars ...string) ran {
	t.Helper()
	return runIn(t, t.TempDir(), src, vars...)
}

// runIn is runSuite in a directory that may hold other files.
func runIn(t *testing.T, dir, src string, vars ...string) ran {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "suite.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}, Vars: vars})
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	plan, err := runner.NewPlan(cfg, runner.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := runner.Run(ctx, plan, runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(sum.Dir, "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := ran{dir: sum.Dir, suites: map[string]result.Result{}, sums: map[string]result.MigrationSummary{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 16<<20), 16<<20)
	for sc.Scan() {
		var r result.Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out.results = append(out.results, r)
		if r.Level == result.LevelSuite {
			out.suites[r.Suite] = r
			var ms result.MigrationSummary
			if len(r.Data) > 0 {
				if err := json.Unmarshal(r.Data, &ms); err != nil {
					t.Fatal(err)
				}
			}
			out.sums[r.Suite] = ms
		}
	}
	return out
}

// db is one of the test databases.
type db struct {
	driver string // postgres | mysql
	dsn    string
	conn   *sql.DB
}

func openDB(t *testing.T, driver string) *db {
	t.Helper()
	var dsn, name string
	if driver == "postgres" {
		dsn, name = testdb.Postgres(t), "pgx"
	} else {
		dsn, name = testdb.MySQL(t), "mysql"
	}
	conn, err := sql.Open(name, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &db{driver: driver, dsn: dsn, conn: conn}
}

func (d *db) exec(t *testing.T, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.conn.Exec(s); err != nil {
			t.Fatalf("%s: %v\n%s", d.driver, err, s)
		}
	}
}

func (d *db) table(t *testing.T, prefix string) string {
	drv := "pgx"
	if d.driver == "mysql" {
		drv = "mysql"
	}
	return testdb.Table(t, drv, d.dsn, prefix)
}

// types of the planted tables: the source's types, and the target's,
// narrower where a schema difference is planted.
func (d *db) accountsDDL(name string) string {
	if d.driver == "postgres" {
		return "CREATE TABLE " + name + " (id bigint PRIMARY KEY, owner varchar(40) NOT NULL, balance numeric(12,2), opened_on date, updated_at timestamp(6), active boolean, note text, rate double precision)"
	}
	return "CREATE TABLE " + name + " (id bigint PRIMARY KEY, owner varchar(40) NOT NULL, balance decimal(12,2), opened_on date, updated_at datetime(6), active tinyint(1), note text, rate double) CHARACTER SET utf8mb4"
}

func (d *db) ledgerDDL(name string, target bool) string {
	switch {
	case d.driver == "postgres" && !target:
		return "CREATE TABLE " + name + " (id integer NOT NULL, amount numeric(12,2), posted_at timestamp(6), ref integer)"
	case d.driver == "postgres":
		return "CREATE TABLE " + name + " (id integer NOT NULL, amount numeric(12,1), posted_at timestamp(3), ref varchar(20))"
	case !target:
		return "CREATE TABLE " + name + " (id int NOT NULL, amount decimal(12,2), posted_at datetime(6), ref int)"
	}
	return "CREATE TABLE " + name + " (id int NOT NULL, amount decimal(12,1), posted_at datetime(3), ref varchar(20))"
}

func (d *db) branchesDDL(name string) string {
	if d.driver == "postgres" {
		return "CREATE TABLE " + name + " (code varchar(10) PRIMARY KEY, city text NOT NULL)"
	}
	return "CREATE TABLE " + name + " (code varchar(10) PRIMARY KEY, city text NOT NULL) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
}

type account struct {
	id      int
	owner   string
	balance string
	note    *string
	rate    string
}

func accounts(target bool) []account {
	empty, text := "", "regular"
	var out []account
	for i := 1; i <= 200; i++ {
		a := account{id: i, owner: fmt.Sprintf("owner-%03d", i), balance: fmt.Sprintf("%d.%02d", i*37, i%100), note: &text, rate: "0.25"}
		switch i {
		case 5: // missing on the target
			if target {
				continue
			}
		case 7: // a changed value
			a.balance = "100.00"
			if target {
				a.balance = "100.01"
			}
		case 8: // NULL on the source, empty on the target
			a.note = nil
			if target {
				a.note = &empty
			}
		case 9: // a trailing space
			a.owner = "bob"
			if target {
				a.owner = "bob "
			}
		case 10: // case changed
			a.owner = "Carol"
			if target {
				a.owner = "carol"
			}
		case 12: // equal floats written differently: no difference
			a.rate = "0.3"
			if target {
				a.rate = "0.30000000000000004"
			}
		}
		out = append(out, a)
	}
	if target {
		out = append(out, account{id: 201, owner: "mallory", balance: "1.00", note: &text, rate: "0"})
	}
	return out
}

func plantAccounts(t *testing.T, d *db, name string, target bool) {
	t.Helper()
	d.exec(t, d.accountsDDL(name))
	var vals []string
	for _, a := range accounts(target) {
		note := "NULL"
		if a.note != nil {
			note = "'" + *a.note + "'"
		}
		vals = append(vals, fmt.Sprintf("(%d, '%s', %s, '2026-01-%02d', '2026-03-01 10:00:%02d.250000', %v, %s, %s)",
			a.id, a.owner, a.balance, a.id%28+1, a.id%60, a.id%2 == 0, note, a.rate))
	}
	d.exec(t, "INSERT INTO "+name+" VALUES "+strings.Join(vals, ", "))
}

func plantLedger(t *testing.T, d *db, name string, target bool) {
	t.Helper()
	d.exec(t, d.ledgerDDL(name, target))
	rows := []string{
		"(1, 10.25, '2026-03-01 10:00:00', 42)",        // 10.25 is rounded or cut to one decimal place
		"(2, 10.20, '2026-03-01 10:00:00.123456', 43)", // microseconds lost at 3 digits
		"(3, 5.00, '2026-03-01 10:00:00', 44)",
		"(4, 7.50, '2026-03-01 10:00:00.500000', 45)",
	}
	if target {
		rows = append(rows, "(3, 5.00, '2026-03-01 10:00:00', 44)") // a duplicate key
	}
	d.exec(t, "INSERT INTO "+name+" VALUES "+strings.Join(rows, ", "))
}

func plantBranches(t *testing.T, d *db, name string) {
	t.Helper()
	d.exec(t, d.branchesDDL(name),
		// Keys whose order differs between collations: bytes put "B" and "Z" before "a", é last.
		"INSERT INTO "+name+" VALUES ('a', 'Shanghai'), ('B', 'Beijing'), ('é', 'Montréal'), ('Z', 'Zurich'), ('b2', 'Shenzhen'), ('A1', 'Hangzhou')")
}

func suiteSrc(src, tgt *db, checksum bool, acc, accT, led, ledT, br, brT string) string {
	return fmt.Sprintf(`
variable "source_dsn" { sensitive = true }
variable "target_dsn" { sensitive = true }

migration "core" {
  component = "core-ledger"
  source {
    driver = %q
    dsn    = var.source_dsn
  }
  target {
    driver = %q
    dsn    = var.target_dsn
  }
  max_diffs  = 50
  chunk_rows = 40
  checksum   = %v

  table %q {
    target_table = %q
  }
  table %q {
    target_table = %q
    key          = ["id"]
  }
  table %q {
    target_table = %q
  }
}
`, src.driver, tgt.driver, checksum, acc, accT, led, ledT, br, brT)
}

func TestPlantedDifferencesAreFoundAndNamedAcrossEngines(t *testing.T) {
	for _, dir := range []struct {
		src, tgt string
		checksum bool
	}{
		{"postgres", "mysql", true}, {"mysql", "postgres", true}, {"postgres", "postgres", true},
		{"postgres", "mysql", false}, // every row fetched, aggregates computed from the stream
	} {
		name := dir.src + " to " + dir.tgt
		if !dir.checksum {
			name += " without checksums"
		}
		t.Run(name, func(t *testing.T) {
			src, tgt := openDB(t, dir.src), openDB(t, dir.tgt)
			acc, accT := src.table(t, "acc_s"), tgt.table(t, "acc_t")
			led, ledT := src.table(t, "led_s"), tgt.table(t, "led_t")
			br, brT := src.table(t, "br_s"), tgt.table(t, "br_t")
			plantAccounts(t, src, acc, false)
			plantAccounts(t, tgt, accT, true)
			plantLedger(t, src, led, false)
			plantLedger(t, tgt, ledT, true)
			plantBranches(t, src, br)
			plantBranches(t, tgt, brT)

			hcl := suiteSrc(src, tgt, dir.checksum, acc, accT, led, ledT, br, brT)
			keyLine := lineOf(hcl, `key          = ["id"]`)
			r := runSuite(t, hcl, "source_dsn="+src.dsn, "target_dsn="+tgt.dsn)
			if st := r.suites["core"].Status; st != result.Failed {
				t.Fatalf("suite status %s, want failed: %s", st, r.suites["core"].Message)
			}

			// accounts: every planted row difference, each named.
			a := r.table(t, "core", acc)
			if a.Missing != 1 || a.Extra != 1 || a.Changed != 4 || a.Duplicates != 0 {
				t.Fatalf("accounts: missing %d extra %d changed %d dup %d, want 1 1 4 0; diffs %+v", a.Missing, a.Extra, a.Changed, a.Duplicates, a.Diffs)
			}
			want := map[string]string{"5": "missing", "201": "extra", "7": "changed", "8": "changed", "9": "changed", "10": "changed"}
			reasons := map[string]string{"7": ReasonValue, "8": ReasonNullEmpty, "9": ReasonTrailingSpace, "10": ReasonCase}
			col := map[string]string{"7": "balance", "8": "note", "9": "owner", "10": "owner"}
			for _, d := range a.Diffs {
				k := d.Key[0]
				if want[k] != d.Kind {
					t.Errorf("accounts key %s: kind %s, want %q", k, d.Kind, want[k])
				}
				delete(want, k)
				if d.Kind != "changed" {
					continue
				}
				var differs []string
				for _, c := range d.Cells {
					if c.Differs {
						differs = append(differs, c.Column)
						if c.Reason != reasons[k] {
							t.Errorf("accounts key %s column %s: reason %q, want %q", k, c.Column, c.Reason, reasons[k])
						}
					}
				}
				if !slices.Equal(differs, []string{col[k]}) {
					t.Errorf("accounts key %s: differing columns %v, want [%s]", k, differs, col[k])
				}
			}
			if len(want) > 0 {
				t.Errorf("accounts: differences not listed: %v", want)
			}
			for _, d := range a.Diffs {
				if d.Kind == "changed" && d.Key[0] == "7" {
					for _, c := range d.Cells {
						if c.Column == "balance" && (c.Source != "100.00" || c.Target != "100.01") {
							t.Errorf("balance side by side: %q vs %q, want 100.00 vs 100.01", c.Source, c.Target)
						}
					}
				}
			}
			if l := level(t, a, LevelSchema); l.Status != result.Passed {
				t.Errorf("accounts schema: %s %v", l.Status, l.Findings)
			}
			if l := level(t, a, LevelCount); l.Status != result.Passed || a.SourceRows != 200 || a.TargetRows != 200 {
				t.Errorf("accounts count: %s %s", l.Status, l.Message)
			}
			if l := level(t, a, LevelAggregates); l.Status != result.Failed || !strings.Contains(strings.Join(l.Findings, "\n"), "balance: sum") {
				t.Errorf("accounts aggregates should name the balance sum: %s %v", l.Status, l.Findings)
			}
			if a.Ranges < 5 {
				t.Errorf("accounts were compared in %d ranges, want the key split by chunk_rows = 40", a.Ranges)
			}

			// ledger: the schema differences and what they did to the rows.
			lg := r.table(t, "core", led)
			schema := strings.Join(level(t, lg, LevelSchema).Findings, "\n")
			for _, w := range []string{"amount: fewer decimal places", "posted_at: less precise", "ref: the type changed from"} {
				if !strings.Contains(schema, w) {
					t.Errorf("ledger schema findings lack %q:\n%s", w, schema)
				}
			}
			if lg.Duplicates != 1 || lg.Changed != 2 || lg.Missing != 0 || lg.Extra != 0 {
				t.Errorf("ledger: dup %d changed %d missing %d extra %d, want 1 2 0 0: %+v", lg.Duplicates, lg.Changed, lg.Missing, lg.Extra, lg.Diffs)
			}
			if lg.Reasons[ReasonTimestampPrecision] != 1 || lg.Reasons[ReasonValue] != 1 {
				t.Errorf("ledger reasons %v, want one timestamp precision and one value", lg.Reasons)
			}
			rows := level(t, lg, LevelRows)
			if !strings.Contains(strings.Join(rows.Findings, "\n"), fmt.Sprintf("suite.hcl line %d: the key (id) is not unique: 0 more rows with a key already seen on the source, 1 on the target", keyLine)) {
				t.Errorf("ledger rows should name the duplicate key on the key line: %v", rows.Findings)
			}
			if level(t, lg, LevelCount).Status != result.Failed {
				t.Errorf("ledger count should fail (4 vs 5 rows)")
			}

			// branches: identical, with text keys that collations order differently.
			b := r.table(t, "core", br)
			for _, l := range b.Levels {
				if l.Status != result.Passed {
					t.Errorf("branches %s: %s %s %v", l.Level, l.Status, l.Message, l.Findings)
				}
			}
			if b.Compared != 6 {
				t.Errorf("branches compared %d rows, want 6", b.Compared)
			}
			// The keys 1-201 in five ranges of 40: the first holds the changed
			// rows, the last the extra one; the three between agree, and their
			// checksums (computed by each engine) say so on both engines alike.
			if !dir.checksum && (a.Checksummed != 0 || a.Fetched != 5) {
				t.Errorf("without checksums: %d ranges agreed by checksum, %d fetched", a.Checksummed, a.Fetched)
			} else if dir.checksum && (a.Ranges != 5 || a.Checksummed != 3 || a.Fetched != 2) {
				t.Errorf("accounts: %d ranges agreed by checksum, %d fetched of %d; want 3 and 2 of 5", a.Checksummed, a.Fetched, a.Ranges)
			}

			// fix.sql: statements for every difference, never run.
			fix, err := os.ReadFile(filepath.Join(r.dir, FixFile))
			if err != nil {
				t.Fatal(err)
			}
			fs := string(fix)
			for _, w := range []string{"INSERT INTO", "DELETE FROM", "UPDATE", "'bob'", "100.00"} {
				if !strings.Contains(fs, w) {
					t.Errorf("fix.sql lacks %q:\n%s", w, fs)
				}
			}
			// The report carries the same in every format.
			if _, err := report.Render(r.dir); err != nil {
				t.Fatal(err)
			}
			read := func(name string) string {
				b, err := os.ReadFile(filepath.Join(r.dir, name))
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			html, junit, md, js := read("report.html"), read("junit.xml"), read("summary.md"), read("report.json")
			for _, w := range []string{"Table " + acc, `style="background: #fce8e6"`, "<strong>owner</strong>", "&#34;bob &#34;", "trailing space", "missing on the target", `href="fix.sql"`, "columns compared</summary>"} {
				if !strings.Contains(html, w) {
					t.Errorf("report.html lacks %q", w)
				}
			}
			if !strings.Contains(junit, `name="`+acc+` › rows"`) || !strings.Contains(junit, "key (9) changed: owner: &#34;bob&#34; → &#34;bob &#34; (trailing space)") {
				t.Errorf("junit.xml lacks the rows level of %s with its differences", acc)
			}
			for _, w := range []string{"### Migration core", `| changed (9) | **owner** | \"bob" | \"bob " | trailing space |`, "| missing (5) |"} {
				if !strings.Contains(md, w) {
					t.Errorf("summary.md lacks %q:\n%s", w, md)
				}
			}
			if !strings.Contains(js, `"reasons": {`) || !strings.Contains(js, `"fix_file": "fix.sql"`) {
				t.Errorf("report.json lacks the migration data")
			}

			// Nothing secret anywhere in the run directory.
			assertNoSecret(t, r.dir, "cloudtest:cloudtest", ":cloudtest@")
		})
	}
}

// lineOf is the 1-based line of the first line of src holding s.
func lineOf(src, s string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	return 0
}

func assertNoSecret(t *testing.T, dir string, secrets ...string) {
	t.Helper()
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("%s contains %q", path, s)
			}
		}
		return nil
	})
}
