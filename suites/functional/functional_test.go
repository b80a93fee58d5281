package functional

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudtest/cloudtest/internal/config"
	"github.com/cloudtest/cloudtest/internal/result"
	"github.com/cloudtest/cloudtest/internal/runner"
	"github.com/cloudtest/cloudtest/internal/testdb"
)

// run loads src next to an embedded demo bank target and runs it for real.
func run(t *testing.T, src string, timeout time.Duration) []result.Result {
	t.Helper()
	dir := t.TempDir()
	full := "target \"demo\" { embedded = \"demobank\" }\n" + src
	if err := os.WriteFile(filepath.Join(dir, "suite.hcl"), []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, _, diags := config.Load(dir, config.Options{Kinds: []config.SuiteKind{Kind}})
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	plan, err := runner.NewPlan(cfg, runner.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sum, err := runner.Run(ctx, plan, runner.Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(filepath.Join(sum.Dir, "results.jsonl"))
	defer f.Close()
	var out []result.Result
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r result.Result
		json.Unmarshal(sc.Bytes(), &r)
		out = append(out, r)
	}
	return out
}

// outcome lists "level case/step=status" in the order recorded.
func outcome(rs []result.Result) string {
	var parts []string
	for _, r := range rs {
		switch r.Level {
		case result.LevelStep:
			parts = append(parts, fmt.Sprintf("%s %s/%s=%s", r.Phase, r.Case, r.Step, r.Status))
		case result.LevelCase:
			parts = append(parts, fmt.Sprintf("case %s=%s", r.Case, r.Status))
		case result.LevelSuite:
			parts = append(parts, fmt.Sprintf("suite=%s", r.Status))
		}
	}
	return strings.Join(parts, "; ")
}

const login = `
    step "login" {
      http {
        method = "POST"
        path   = "/api/login"
        json   = { user = "alice", password = "wonderland" }
      }
      expect { status = 200 }
      capture { token = response.json.token }
    }`

func TestSetupCapturesReachCasesAndTeardownAlwaysRuns(t *testing.T) {
	rs := run(t, `
functional "f" {
  target = target.demo
  setup {`+login+`
  }
  case "reads" {
    step "account" {
      http {
        path    = "/api/accounts/1"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      expect { status = 200 }
    }
  }
  case "breaks" {
    step "wrong" {
      http { path = "/healthz" }
      expect { status = 418 }
    }
    step "after" {
      http { path = "/healthz" }
    }
  }
  teardown {
    step "bye" {
      http {
        path    = "/api/accounts"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      expect { status = 200 }
    }
  }
}`, 30*time.Second)
	want := "setup setup/login=passed; test reads/account=passed; case reads=passed; test breaks/wrong=failed; test breaks/after=skipped; case breaks=failed; teardown teardown/bye=passed; suite=failed"
	if got := outcome(rs); got != want {
		t.Fatalf("results\n got %s\nwant %s", got, want)
	}
}

func TestFailedSetupSkipsCasesButNotTeardown(t *testing.T) {
	rs := run(t, `
functional "f" {
  target = target.demo
  setup {
    step "login" {
      http {
        method = "POST"
        path   = "/api/login"
        json   = { user = "alice", password = "wrong" }
      }
      expect { status = 200 }
    }
  }
  case "c" {
    step "s" {
      http { path = "/healthz" }
    }
  }
  teardown {
    step "t" {
      http { path = "/healthz" }
    }
  }
}`, 30*time.Second)
	want := "setup setup/login=failed; test c/s=skipped; case c=skipped; teardown teardown/t=passed; suite=failed"
	if got := outcome(rs); got != want {
		t.Fatalf("results\n got %s\nwant %s", got, want)
	}
}

func TestForEachMakesOneCasePerElementAndRunsThemInParallel(t *testing.T) {
	rs := run(t, `
functional "f" {
  target   = target.demo
  parallel = true
  case "own" {
    for_each = {
      alice = { password = "wonderland", account = 1 }
      bob   = { password = "builder", account = 2 }
      carol = { password = "caterpillar", account = 3 }
    }
    step "login" {
      http {
        method = "POST"
        path   = "/api/login"
        json   = { user = each.key, password = each.value.password }
      }
      capture { token = response.json.token }
    }
    step "account" {
      http {
        path    = "/api/accounts/${each.value.account}"
        headers = { Authorization = "Bearer ${capture.token}" }
      }
      assert {
        condition     = response.json.owner == each.key
        error_message = "own account"
      }
    }
  }
}`, 30*time.Second)
	cases := map[string]result.Status{}
	for _, r := range rs {
		if r.Level == result.LevelCase {
			cases[r.Case] = r.Status
		}
	}
	for _, c := range []string{"own[alice]", "own[bob]", "own[carol]"} {
		if cases[c] != result.Passed {
			t.Errorf("case %s = %q, want passed (all: %s)", c, cases[c], outcome(rs))
		}
	}
}

func TestSuiteTimeoutSkipsTheRest(t *testing.T) {
	rs := run(t, `
target "slow" {
  embedded = "demobank"
  demobank {
    slow_paths = { "/healthz" = "5s" }
  }
}
functional "f" {
  target  = target.slow
  timeout = "300ms"
  step "slow" {
    http { path = "/healthz" }
  }
  step "never" {
    http { path = "/healthz" }
  }
}`, 30*time.Second)
	got := outcome(rs)
	if !strings.Contains(got, "test f/slow=error") || !strings.Contains(got, "test f/never=skipped") || !strings.HasSuffix(got, "suite=error") {
		t.Fatalf("results %s", got)
	}
}

func TestSQLStepsInAFunctionalSuite(t *testing.T) {
	for _, db := range []struct{ driver, sqlDriver, dsn, ph string }{
		{"postgres", "pgx", testdb.Postgres(t), "$1"},
		{"mysql", "mysql", testdb.MySQL(t), "?"},
	} {
		t.Run(db.driver, func(t *testing.T) {
			table := testdb.Table(t, db.sqlDriver, db.dsn, "fn_ledger")
			rs := run(t, fmt.Sprintf(`
locals {
  db    = %q
  table = %q
}
functional "db" {
  setup {
    step "create" {
      sql {
        driver = %q
        dsn    = local.db
        query  = "CREATE TABLE ${local.table} (id VARCHAR(40) PRIMARY KEY, amount INTEGER)"
      }
    }
  }
  case "a ledger id written through the API is stored in the database" {
    step "login" {
      http {
        url    = "${target.demo.url}/api/login"
        method = "POST"
        json   = { user = "alice", password = "wonderland" }
      }
      capture { token = response.json.token }
    }
    step "write" {
      http {
        url     = "${target.demo.url}/api/ledger"
        method  = "POST"
        headers = { Authorization = "Bearer ${capture.token}" }
        json    = { amount = 42 }
      }
      expect { status = 201 }
      capture { id = response.json.id }
    }
    step "store" {
      sql {
        driver = %q
        dsn    = local.db
        query  = "INSERT INTO ${local.table} (id, amount) VALUES (%s, 42)"
        args   = [capture.id]
      }
    }
    step "read" {
      sql {
        driver = %q
        dsn    = local.db
        query  = "SELECT id, amount FROM ${local.table}"
      }
      expect { row_count = 1 }
      assert {
        condition     = response.rows[0].id == capture.id
        error_message = "the id read back is the one written"
      }
    }
  }
}`, db.dsn, table, db.driver, db.driver, db.ph, db.driver), 60*time.Second)
			if got := outcome(rs); !strings.HasSuffix(got, "suite=passed") {
				t.Fatalf("results %s\n%v", got, rs)
			}
		})
	}
}
