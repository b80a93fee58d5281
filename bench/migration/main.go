// Command migration measures the migration suite kind: it fills a table of
// six columns of mixed types (bigint key, decimal, text, timestamp,
// boolean, double) with the same generated rows in PostgreSQL and MariaDB
// (generate_series and MariaDB's sequence engine: nothing crosses the
// wire), plants a few differences, then runs `cloudtest run` on a
// migration suite comparing them and prints wall time, rows per second and
// the peak RSS of the cloudtest process.
//
//	go run ./bench/migration -rows 1000000 -pairs pg-my,pg-my-rows,pg-pg,pg-pg-rows
//
// It needs the databases of `bash .ci/services.sh`.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

const (
	pgDSN = "postgres://cloudtest:cloudtest@127.0.0.1:5432/cloudtest?sslmode=disable"
	myDSN = "cloudtest:cloudtest@tcp(127.0.0.1:3306)/cloudtest"
)

func main() {
	rows := flag.Int("rows", 1000000, "rows on each side")
	pairs := flag.String("pairs", "pg-my,pg-my-rows,pg-pg,pg-pg-rows", "comparisons: pg-my (PostgreSQL to MariaDB, checksums first), pg-my-rows (checksum = false: every row streamed), pg-pg, pg-pg-rows, my-my")
	keep := flag.Bool("keep", false, "keep the tables loaded by an earlier run with the same -rows")
	parallel := flag.Int("parallel", 4, "parallel key ranges")
	engines := flag.String("load", "all", "which engines to load: all, or pg (PostgreSQL only, for pg-pg at 10M rows)")
	flag.Parse()
	ctx := context.Background()
	pg, err := sql.Open("pgx", pgDSN)
	check(err)
	my, err := sql.Open("mysql", myDSN+"?multiStatements=true")
	check(err)
	if *keep {
		// The tables must hold what -rows says, or the figures would be
		// labelled with another size than the one compared.
		for _, t := range []string{"bench_src", "bench_tgt"} {
			var n int
			check(pg.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n))
			if n < *rows-1 || n > *rows+1 {
				log.Fatalf("-keep: PostgreSQL's %s has %d rows, not the %d of -rows (one planted missing or extra aside): load them again without -keep", t, n, *rows)
			}
		}
	}
	if !*keep {
		start := time.Now()
		if *engines == "pg" {
			my = nil
		}
		load(ctx, pg, my, *rows)
		fmt.Printf("loaded %d rows into each of 4 tables in %.1f s\n", *rows, time.Since(start).Seconds())
	}
	bin := filepath.Join(os.TempDir(), "cloudtest-bench-migration")
	build := exec.Command("go", "build", "-o", bin, "./cmd/cloudtest")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	check(build.Run())
	fmt.Printf("| comparison | rows each side | wall s | rows/s (one side) | cloudtest CPU s | peak RSS MB | ranges | checksummed | differences | level times s |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range strings.Split(*pairs, ",") {
		run(bin, p, *rows, *parallel)
	}
}

func load(ctx context.Context, pg, my *sql.DB, n int) {
	// The same values on both engines, computed from the key.
	pgSel := fmt.Sprintf(`SELECT i, ((i * 37) %% 1000000)::numeric(12,2) / 100, 'customer-' || i, timestamp '2026-01-01' + i * interval '1 second' + (i %% 1000) * interval '1 microsecond', i %% 2 = 0, i / 7.0::double precision FROM generate_series(1, %d) AS i`, n)
	myCols := "seq, ((seq * 37) % 1000000) / 100, CONCAT('customer-', seq), TIMESTAMPADD(MICROSECOND, seq % 1000, TIMESTAMPADD(SECOND, seq, '2026-01-01 00:00:00')), seq % 2 = 0, seq / 7e0"
	for _, t := range []string{"bench_src", "bench_tgt"} {
		exec1(pg, "DROP TABLE IF EXISTS "+t)
		exec1(pg, "CREATE TABLE "+t+" (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, name varchar(40) NOT NULL, created_at timestamp(6) NOT NULL, flag boolean NOT NULL, rate double precision NOT NULL)")
		exec1(pg, "INSERT INTO "+t+" "+pgSel)
		if my == nil {
			continue
		}
		exec1(my, "DROP TABLE IF EXISTS "+t)
		exec1(my, "CREATE TABLE "+t+" (id bigint PRIMARY KEY, amount decimal(12,2) NOT NULL, name varchar(40) NOT NULL, created_at datetime(6) NOT NULL, flag tinyint(1) NOT NULL, rate double NOT NULL) ENGINE=InnoDB")
		exec1(my, fmt.Sprintf("INSERT INTO %s SELECT %s FROM seq_1_to_%d", t, myCols, n))
	}
	// Planted on every target: one row changed, one missing, one extra.
	for _, db := range []*sql.DB{pg, my} {
		if db == nil {
			continue
		}
		exec1(db, fmt.Sprintf("UPDATE bench_tgt SET name = 'changed' WHERE id = %d", n/2))
		exec1(db, fmt.Sprintf("DELETE FROM bench_tgt WHERE id = %d", n/3))
		exec1(db, fmt.Sprintf("INSERT INTO bench_tgt SELECT id + %d, amount, name, created_at, flag, rate FROM bench_src WHERE id = 1", n))
	}
	exec1(pg, "ANALYZE bench_src")
	exec1(pg, "ANALYZE bench_tgt")
}

func run(bin, pair string, n, parallel int) {
	src, tgt, srcDSN, tgtDSN, checksum := pairOf(pair)
	dir, err := os.MkdirTemp("", "bench-migration")
	check(err)
	defer os.RemoveAll(dir)
	suite := migrationSuite(src, tgt, parallel, checksum)
	check(os.WriteFile(filepath.Join(dir, "bench.hcl"), []byte(suite), 0o644))
	cmd := exec.Command(bin, "run", "--out", filepath.Join(dir, "out"), "--var", "src="+srcDSN, "--var", "tgt="+tgtDSN, "--suite", "bench", dir)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil && cmd.ProcessState.ExitCode() != 1 {
		log.Fatalf("%s: %v\n%s", pair, err, out.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	runs, _ := filepath.Glob(filepath.Join(dir, "out", "*", "results.jsonl"))
	summary := ""
	if len(runs) == 1 {
		b, _ := os.ReadFile(runs[0])
		summary = grab(string(b))
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Printf("| %s | %d | %.2f | %.0f | %.1f | %.0f | %s |\n", pair, n, wall.Seconds(), float64(n)/wall.Seconds(), cpu.Seconds(), float64(ru.Maxrss)/1024, summary)
}

// pairOf is what a pair names: the source and target drivers and DSNs,
// and whether the migration checksums (the -rows pairs count rows only).
func pairOf(pair string) (src, tgt, srcDSN, tgtDSN string, checksum bool) {
	src, tgt, checksum = "postgres", "mysql", true
	srcDSN, tgtDSN = pgDSN, myDSN
	switch pair {
	case "pg-pg", "pg-pg-rows":
		tgt, tgtDSN = "postgres", pgDSN
		checksum = pair == "pg-pg"
	case "pg-my-rows":
		checksum = false
	case "my-my":
		src, srcDSN = "mysql", myDSN
	}
	return src, tgt, srcDSN, tgtDSN, checksum
}

// migrationSuite is the configuration the benchmark runs: one migration
// of bench_src to bench_tgt, the DSNs as sensitive variables.
func migrationSuite(src, tgt string, parallel int, checksum bool) string {
	return fmt.Sprintf(`
variable "src" { sensitive = true }
variable "tgt" { sensitive = true }
deployment {
  mode = "private"
  component "core-ledger" {
    mode   = "private"
    layers = ["paas"]
    tier   = "critical"
  }
}
migration "bench" {
  component = "core-ledger"
  source {
    driver = %q
    dsn    = var.src
  }
  target {
    driver = %q
    dsn    = var.tgt
  }
  parallel = %d
  checksum = %v
  table "bench_src" { target_table = "bench_tgt" }
}
`, src, tgt, parallel, checksum)
}

// grab pulls ranges, checksummed and the difference counts from the suite result.
func grab(results string) string {
	field := func(name string) string {
		i := strings.LastIndex(results, `"`+name+`":`)
		if i < 0 {
			return "0"
		}
		s := results[i+len(name)+3:]
		if j := strings.IndexAny(s, ",}"); j >= 0 {
			s = s[:j]
		}
		return s
	}
	var levels []string
	for _, l := range []string{"schema", "count", "aggregates", "rows"} {
		i := strings.LastIndex(results, `"level":"`+l+`"`)
		if i < 0 {
			continue
		}
		s := results[i:]
		if j := strings.Index(s, `"duration_ms":`); j >= 0 {
			s = s[j+14:]
			if k := strings.IndexAny(s, ",}"); k >= 0 {
				var ms float64
				fmt.Sscanf(s[:k], "%g", &ms)
				levels = append(levels, fmt.Sprintf("%s %.1f", l, ms/1000))
			}
		}
	}
	return fmt.Sprintf("%s | %s | missing %s, extra %s, changed %s | %s", field("ranges"), field("checksummed"), field("missing"), field("extra"), field("changed"), strings.Join(levels, ", "))
}

func exec1(db *sql.DB, q string) {
	if _, err := db.Exec(q); err != nil {
		log.Fatalf("%v\n%s", err, q)
	}
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
