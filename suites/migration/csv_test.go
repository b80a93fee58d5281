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
