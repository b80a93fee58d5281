package security

import (
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/testdb"
)

// greeter answers /greet?city= from a real PostgreSQL. style "leaky"
// concatenates the value into SQL and shows the database's error; "blind"
// concatenates but hides errors (only a time delay gives it away);
// "safe" passes the value as a parameter.
func greeter(t *testing.T, db *sql.DB, style string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		city := r.URL.Query().Get("city")
		var row *sql.Row
		if style == "safe" {
			row = db.QueryRowContext(r.Context(), "SELECT 'Branches in ' || $1::text", city)
		} else {
			row = db.QueryRowContext(r.Context(), "SELECT 'Branches in ' || '"+city+"'")
		}
		var s string
		if err := row.Scan(&s); err != nil {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusInternalServerError)
			if style == "leaky" {
				fmt.Fprint(w, err.Error())
			} else {
				fmt.Fprint(w, "something went wrong")
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"title\": %q}", s)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func sqlSuite(base string) string {
	return fmt.Sprintf(`
target "app" { url = %q }

security "sqli" {
  target = target.app
  scope { allow = ["127.0.0.1"] }
  check "injection" {
    probes = ["sql"]
    sleep  = "1s"
    parameter "city" {
      path  = "/greet"
      value = "shanghai"
    }
  }
}
`, base)
}

func TestSQLInjectionOnARealDatabase(t *testing.T) {
	db, err := sql.Open("pgx", testdb.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, c := range []struct {
		style string
		want  []string
	}{
		{"leaky", []string{"injection/sql-error"}},
		{"blind", []string{"injection/sql-blind-time"}},
		{"safe", nil},
	} {
		t.Run(c.style, func(t *testing.T) {
			r := runSuite(t, sqlSuite(greeter(t, db, c.style)), nil)
			if got := r.ids(); !slices.Equal(got, c.want) {
				t.Fatalf("findings %v, want %v (%s)", got, c.want, r.suite.Message)
			}
			if c.want == nil && r.suite.Status != result.Passed {
				t.Errorf("suite %s: %s", r.suite.Status, r.suite.Message)
			}
			if c.style == "blind" {
				f := r.finding("injection/sql-blind-time")
				if f.Evidence == nil || f.Evidence.Status == 0 {
					t.Errorf("the blind finding carries the delayed answer: %+v", f)
				}
			}
		})
	}
}
