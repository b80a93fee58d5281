// Package testdb gives tests the DSNs of the real PostgreSQL and MariaDB
// servers that `bash .ci/services.sh` starts.
package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// Postgres returns the DSN of the test PostgreSQL database
// (CLOUDTEST_TEST_POSTGRES_DSN, or the one services.sh creates).
func Postgres(t testing.TB) string {
	return reach(t, "pgx", "CLOUDTEST_TEST_POSTGRES_DSN", "postgres://cloudtest:cloudtest@127.0.0.1:5432/cloudtest?sslmode=disable")
}

// MySQL returns the DSN of the test MariaDB database
// (CLOUDTEST_TEST_MYSQL_DSN, or the one services.sh creates).
func MySQL(t testing.TB) string {
	return reach(t, "mysql", "CLOUDTEST_TEST_MYSQL_DSN", "cloudtest:cloudtest@tcp(127.0.0.1:3306)/cloudtest")
}

func reach(t testing.TB, driver, env, fallback string) string {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn == "" {
		dsn = fallback
	}
	db, err := sql.Open(driver, dsn)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		Unavailable(t, fmt.Sprintf("the test database (%s) cannot be reached: %v; run: bash .ci/services.sh", driver, err))
	}
	return dsn
}

// Unavailable ends a test that needs a service CI provides (a database
// that .ci/services.sh starts, the machine's Docker engine):
// it fails the test in CI (CI=true), where a skipped test is a defect, and
// skips it on a developer's machine that lacks the service.
func Unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	// Outside CI a developer may lack the service; with CI=true the line
	// above fails the test instead, so this never skips there.
	t.Skip(msg)
}

// Table returns a table name unique to the test, dropped when it ends.
func Table(t testing.TB, driver, dsn, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	t.Cleanup(func() {
		db, err := sql.Open(driver, dsn)
		if err != nil {
			return
		}
		defer db.Close()
		db.Exec("DROP TABLE IF EXISTS " + name)
	})
	return name
}
