package migration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudtest/cloudtest/internal/result"
)

// TestTheExampleExportsPassAndAPlantedChangeIsFound runs the demo bank's
// migration suite on its CSV exports, then on a copy with a changed balance,
// a lost ledger entry and a NULL memo turned empty.
func TestTheExampleExportsPassAndAPlantedChangeIsFound(t *testing.T) {
	src, err := os.ReadFile("../../examples/demobank/migration.hcl")
	if err != nil {
		t.Fatal(err)
	}
	copyTo := func(t *testing.T) string {
		dir := t.TempDir()
		for _, side := range []string{"legacy", "cloud"} {
			os.MkdirAll(filepath.Join(dir, "migration", side), 0o755)
			files, _ := filepath.Glob(filepath.Join("../../examples/demobank/migration", side, "*.csv"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				os.WriteFile(filepath.Join(dir, "migration", side, filepath.Base(f)), b, 0o644)
			}
		}
		return dir
	}
	suite := "migration \"core-ledger-data\"" + strings.SplitN(string(src), "migration \"core-ledger-data\"", 2)[1]

	t.Run("as shipped, every level passes", func(t *testing.T) {
		dir := copyTo(t)
		r := runIn(t, dir, suite)
		if st := r.suites["core-ledger-data"].Status; st != result.Passed {
			t.Fatalf("%s: %s", st, r.suites["core-ledger-data"].Message)
		}
	})
	t.Run("with planted differences, each is found", func(t *testing.T) {
		dir := copyTo(t)
		edit := func(name, old, new string) {
			p := filepath.Join(dir, "migration", "cloud", name)
			b, _ := os.ReadFile(p)
			s := strings.Replace(string(b), old, new, 1)
			if s == string(b) {
				t.Fatalf("%s has no %q", name, old)
			}
			os.WriteFile(p, []byte(s), 0o644)
		}
		lines := strings.Split(string(must(os.ReadFile(filepath.Join(dir, "migration", "cloud", "ledger_entries.csv")))), "\n")
		edit("ledger_entries.csv", lines[3]+"\n", "")              // id 3 lost
		edit("accounts.csv", "2,bob,179427.23", "2,bob,179427.32") // a changed balance
		r := runIn(t, dir, suite)
		acc, led := r.table(t, "core-ledger-data", "accounts"), r.table(t, "core-ledger-data", "ledger_entries")
		if acc.Changed != 1 || acc.Diffs[0].Key[0] != "2" {
			t.Errorf("accounts: %d changed %+v", acc.Changed, acc.Diffs)
		}
		if led.Missing != 1 || led.Diffs[0].Key[0] != "3" {
			t.Errorf("ledger_entries: %d missing %+v", led.Missing, led.Diffs)
		}
	})
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// csvSuite is a migration suite "m" from the CSV files under src/ to those
// under dst/, both with the types given, comparing the tables given.
func csvSuite(types, tables string) string {
	return `
migration "m" {
  component = "core"
  source {
    driver = "csv"
    dsn    = "src"
    types  = ` + types + `
  }
  target {
    driver = "csv"
    dsn    = "dst"
    types  = ` + types + `
  }
  ` + tables + `
}
`
}

// writeCSV writes name (under dir) with the lines given.
func writeCSV(t *testing.T, dir, name string, lines ...string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// An infinity is equal to nothing but itself: not to 5, not to the largest
// double, whatever the tolerance (|a-b| <= rel*max(|a|,|b|) holds when both
// sides are infinite).
func TestAnInfinityIsNotAFiniteDouble(t *testing.T) {
	suite := func(table string) string {
		return csvSuite(`{ "t.id" = "integer", "t.f" = "double" }`, `table "t" {
    key = ["id"]
    `+table+`
  }`)
	}
	for _, c := range []struct{ src, tgt, tolerance string }{
		{"5", "inf", ""}, {"1e308", "inf", ""}, {"-inf", "-1.7976931348623157e308", ""},
		{"inf", "-inf", ""}, {"5", "inf", `tolerance = { f = 0.5 }`}, {"NaN", "1", ""},
	} {
		dir := t.TempDir()
		writeCSV(t, dir, "src/t.csv", "id,f", "1,1.5", "2,"+c.src)
		writeCSV(t, dir, "dst/t.csv", "id,f", "1,1.5", "2,"+c.tgt)
		r := runIn(t, dir, suite(c.tolerance))
		tc := r.table(t, "m", "t")
		if st := r.suites["m"].Status; st != result.Failed || tc.Changed != 1 {
			t.Errorf("%s against %s (%s): %s, %d changed rows, want failed with 1: %s", c.src, c.tgt, c.tolerance, st, tc.Changed, r.suites["m"].Message)
		}
		if l := level(t, tc, LevelAggregates); l.Status != result.Failed && c.src != "NaN" {
			t.Errorf("%s against %s: the aggregates %s (%s), want failed: the sums differ", c.src, c.tgt, l.Status, l.Message)
		}
	}
	// The same infinity on both sides is equal.
	dir := t.TempDir()
	writeCSV(t, dir, "src/t.csv", "id,f", "1,inf")
	writeCSV(t, dir, "dst/t.csv", "id,f", "1,+Inf")
	if r := runIn(t, dir, suite("")); r.suites["m"].Status != result.Passed {
		t.Errorf("inf against +Inf: %s, want passed: %s", r.suites["m"].Status, r.suites["m"].Message)
	}
}

// What `ignore` accepts (a trailing space, a case change) does not fail the
// table at the aggregates level either, where it moves the smallest and
// largest value and the length; a change it does not accept still fails.
func TestIgnoredTextChangesDoNotFailTheAggregates(t *testing.T) {
	suite := csvSuite(`{ "w.id" = "integer" }`, `table "w" {
    key    = ["id"]
    ignore = ["trailing space", "case"]
  }`)
	dir := t.TempDir()
	writeCSV(t, dir, "src/w.csv", "id,name", "1,alice", "2,bob")
	writeCSV(t, dir, "dst/w.csv", "id,name", "1,alice ", "2,Bob")
	r := runIn(t, dir, suite)
	tc := r.table(t, "m", "w")
	if st := r.suites["m"].Status; st != result.Passed {
		t.Errorf("ignored changes: %s, want passed: %s", st, r.suites["m"].Message)
	}
	if l := level(t, tc, LevelAggregates); l.Status != result.Passed || !strings.Contains(l.Message, "not compared") {
		t.Errorf("aggregates: %s %q, want passed, saying what it did not compare", l.Status, l.Message)
	}
	dir = t.TempDir()
	writeCSV(t, dir, "src/w.csv", "id,name", "1,alice", "2,bob")
	writeCSV(t, dir, "dst/w.csv", "id,name", "1,alice ", "2,carol")
	r = runIn(t, dir, suite)
	if tc := r.table(t, "m", "w"); r.suites["m"].Status != result.Failed || tc.Changed != 1 {
		t.Errorf("bob → carol: %s with %d changed, want failed with 1: %s", r.suites["m"].Status, tc.Changed, r.suites["m"].Message)
	}
}

// Bad data in a csv export is named by its file and line: a value that is
// not of its column's type, a row out of key order, a ragged row; a type
// given for a column the file lacks (a typo) is refused, and a byte order
// mark is no part of the first column's name.
func TestBadCSVDataIsNamedByFileAndLine(t *testing.T) {
	suite := func(types string) string { return csvSuite(types, `table "t" { key = ["id"] }`) }
	for _, c := range []struct {
		name, types string
		dst         []string
		want        []string
	}{
		{"a value not of its type", `{ "t.id" = "integer", "t.v" = "decimal(10,2)" }`,
			[]string{"id,v", "1,1.50", "2,abc"}, []string{"t.csv line 3", `column "v"`, `"abc" is not a decimal number`}},
		{"out of key order", `{ "t.id" = "integer" }`,
			[]string{"id,v", "1,a", "3,b", "2,c"}, []string{"t.csv line 4", "not in key order"}},
		{"a ragged row", `{ "t.id" = "integer" }`,
			[]string{"id,v", "1,a", "2"}, []string{"t.csv", "line 3"}},
		{"a type for a column it lacks", `{ "t.id" = "integer", "t.zz" = "integer" }`,
			[]string{"id,v", "1,a", "2,b"}, []string{`types names "t.zz"`, `no column "zz"`}},
	} {
		dir := t.TempDir()
		writeCSV(t, dir, "src/t.csv", "id,v", "1,a", "2,b")
		if c.name == "a value not of its type" {
			writeCSV(t, dir, "src/t.csv", "id,v", "1,1.50", "2,2.00")
		}
		writeCSV(t, dir, "dst/t.csv", c.dst...)
		r := runIn(t, dir, suite(c.types))
		tc := r.table(t, "m", "t")
		all := r.suites["m"].Message
		for _, l := range tc.Levels {
			all += "\n" + l.Message + "\n" + strings.Join(l.Findings, "\n")
		}
		for _, w := range c.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: no %q in what the suite says:\n%s", c.name, w, all)
			}
		}
		if st := r.suites["m"].Status; st == result.Passed {
			t.Errorf("%s: passed", c.name)
		}
	}
	// A byte order mark before the header.
	dir := t.TempDir()
	writeCSV(t, dir, "src/t.csv", "id,v", "1,a")
	writeCSV(t, dir, "dst/t.csv", "\uFEFFid,v", "1,a")
	if r := runIn(t, dir, suite(`{ "t.id" = "integer" }`)); r.suites["m"].Status != result.Passed {
		t.Errorf("a BOM before the header: %s %s", r.suites["m"].Status, r.suites["m"].Message)
	}
}

// Differences found in one table fail the suite even when another table
// could not be compared: the suite failed (a finding), it is not "could
// not be carried out", and its message names both tables.
func TestDifferencesFailTheSuiteBesideATableThatErred(t *testing.T) {
	dir := t.TempDir()
	writeCSV(t, dir, "src/t.csv", "id,v", "1,a", "2,b")
	writeCSV(t, dir, "dst/t.csv", "id,v", "1,a", "2,changed")
	writeCSV(t, dir, "src/w.csv", "id,v", "1,a")
	writeCSV(t, dir, "dst/w.csv", "id,v", "1,a")
	r := runIn(t, dir, `
migration "m" {
  component = "core"
  source {
    driver = "csv"
    dsn    = "src"
    types  = { "t.id" = "integer", "w.id" = "integer", "w.typo" = "integer" }
  }
  target {
    driver = "csv"
    dsn    = "dst"
    types  = { "t.id" = "integer", "w.id" = "integer" }
  }
  table "t" { key = ["id"] }
  table "w" { key = ["id"] }
}
`)
	s := r.suites["m"]
	if s.Status != result.Failed || !strings.Contains(s.Message, "t rows") || !strings.Contains(s.Message, "w.typo") {
		t.Fatalf("%s %q, want failed, naming t's differences and w's error", s.Status, s.Message)
	}
}

// The same text in another Unicode normalization (é as U+00E9 on the
// source, e and U+0301 on the target) is named for what it is and shown
// escaped, since both look the same; ignore accepts it, and then the
// aggregates leave the text's min, max and length out as for a case change.
func TestAnotherUnicodeNormalizationIsShownAndCanBeIgnored(t *testing.T) {
	suite := func(ignore string) string {
		return csvSuite(`{ "w.id" = "integer" }`, `table "w" {
    key    = ["id"]
    `+ignore+`
  }`)
	}
	write := func() string {
		dir := t.TempDir()
		writeCSV(t, dir, "src/w.csv", "id,name", "1,alice", "2,caf\u00e9")
		writeCSV(t, dir, "dst/w.csv", "id,name", "1,alice", "2,cafe\u0301")
		return dir
	}
	r := runIn(t, write(), suite(""))
	tc := r.table(t, "m", "w")
	rows, aggs := level(t, tc, LevelRows), level(t, tc, LevelAggregates)
	if r.suites["m"].Status != result.Failed || tc.Changed != 1 || tc.Reasons[ReasonNormalization] != 1 {
		t.Fatalf("NFC against NFD: %s, %d changed %v: %s", r.suites["m"].Status, tc.Changed, tc.Reasons, r.suites["m"].Message)
	}
	if !strings.Contains(strings.Join(rows.Findings, "\n"), `name: "caf\u00e9" → "cafe\u0301" (unicode normalization)`) {
		t.Errorf("the rows level does not show the two forms apart: %q", rows.Findings)
	}
	if aggs.Status != result.Failed || !strings.Contains(strings.Join(aggs.Findings, "\n"), `largest value caf\u00e9 on the source, cafe\u0301 on the target (unicode normalization)`) {
		t.Errorf("aggregates: %s %q", aggs.Status, aggs.Findings)
	}

	r = runIn(t, write(), suite(`ignore = ["unicode normalization"]`))
	tc = r.table(t, "m", "w")
	if st := r.suites["m"].Status; st != result.Passed || tc.Reasons[ReasonNormalization+" (ignored)"] != 1 {
		t.Errorf("ignored: %s %v, want passed: %s", st, tc.Reasons, r.suites["m"].Message)
	}
	if l := level(t, tc, LevelAggregates); l.Status != result.Passed || !strings.Contains(l.Message, "ignore accepts unicode normalization") {
		t.Errorf("aggregates, ignored: %s %q", l.Status, l.Message)
	}
}

// A repeated key on a CSV target gets no PostgreSQL ctid in fix.sql (the
// file is no PostgreSQL table), and the rows level says how many rows each
// side has beside the rows it compared.
func TestRepeatedKeysOfACSVTarget(t *testing.T) {
	dir := t.TempDir()
	writeCSV(t, dir, "src/w.csv", "id,name", "1,ann", "2,bob", "2,bob", "3,cy")
	writeCSV(t, dir, "dst/w.csv", "id,name", "1,ann", "2,bob", "3,cy", "3,cy", "4,dee")
	r := runIn(t, dir, csvSuite(`{ "w.id" = "integer" }`, `table "w" { key = ["id"] }`))
	tc := r.table(t, "m", "w")
	rows := level(t, tc, LevelRows)
	if r.suites["m"].Status != result.Failed || tc.Duplicates != 2 || tc.Extra != 1 || tc.Compared != 3 {
		t.Fatalf("%s: %+v", r.suites["m"].Status, tc)
	}
	if want := "3 rows compared by key (id) (of 4 source and 5 target rows; missing and extra rows and the further rows of a duplicate key are not compared)"; !strings.Contains(rows.Message, want) {
		t.Errorf("rows: %q, want %q", rows.Message, want)
	}
	fix := string(must(os.ReadFile(filepath.Join(r.dir, FixFile))))
	for _, want := range []string{`DELETE FROM "w" WHERE "id" = 4;`, `-- the target has the key "id" = 3 more than once: remove one copy from its file`, "the target is a CSV file: standard SQL"} {
		if !strings.Contains(fix, want) {
			t.Errorf("fix.sql lacks %q:\n%s", want, fix)
		}
	}
	if strings.Contains(fix, "ctid") {
		t.Errorf("fix.sql for a CSV target uses PostgreSQL's ctid:\n%s", fix)
	}
}
