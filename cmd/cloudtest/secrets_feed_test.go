package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Feed passwords: the values of a feed column marked sensitive are secrets
// of the run, hidden from every output in every encoding like a sensitive
// variable, while the other columns stay readable.
const (
	feedPasswordA = `fe3d&pw<a@b/c:d?#"x\ 1%+`
	feedPasswordB = "feed-pass-b-7d21c9"
)

func feedSuite(srvURL, sensitive string) string {
	return `target "t" { url = "` + srvURL + `" }
performance "p" {
  target = target.t
  feed {
    file      = "users.csv"
    sensitive = ` + sensitive + `
  }
  load {
    rate     = 10
    duration = "1s"
  }
  journey "j" {
    step "login" {
      http {
        method = "POST"
        path   = "/echo/login"
        query  = { user = feed.user, pw = feed.password }
        json   = { user = feed.user, password = feed.password }
        headers = { Authorization = "Basic ${base64encode("${feed.user}:${feed.password}")}" }
      }
      expect { status = 200 }
    }
  }
}
`
}

func writeFeedSuite(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	csv := "user,password\nalice," + `"` + strings.ReplaceAll(feedPasswordA, `"`, `""`) + `"` + "\nbob," + feedPasswordB + "\n"
	writeTestFiles(t, dir, map[string]string{"main.hcl": src, "users.csv": csv})
	return dir
}

func TestASensitiveFeedColumnIsRedactedFromEveryOutput(t *testing.T) {
	// Nothing listens on port 1: every error names the URL, whose query
	// holds the user (not secret) beside the password.
	r := runDirForLeaks(t, writeFeedSuite(t, feedSuite("http://127.0.0.1:1", `["password"]`)))
	if r.code == 0 {
		t.Fatalf("the run passed although every request was refused\n%s", r.terminal)
	}
	raw, err := os.ReadFile(filepath.Join(r.dir, "load", "p.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte("user=alice")) || !bytes.Contains(raw, []byte("user=bob")) {
		t.Fatalf("load/p.bin keeps no URL naming the users, so this test shows nothing\n%q", raw)
	}
	r.expectNoLeak(t, map[string]string{
		"password a": feedPasswordA,
		"password b": feedPasswordB,
	})
}

func TestAnUnknownSensitiveFeedColumnIsRefusedOnItsLine(t *testing.T) {
	dir := writeFeedSuite(t, feedSuite("http://127.0.0.1:1", `["password", "pin"]`))
	var stdout, stderr bytes.Buffer
	code := run([]string{"validate", dir}, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	if code == 0 || !strings.Contains(out, "main.hcl line 6") || !strings.Contains(out, `no column "pin"`) || !strings.Contains(out, "password, user") {
		t.Fatalf("validate exited %d, want an error naming main.hcl line 6 and the column pin with the columns there are\n%s", code, out)
	}
	if strings.Contains(out, feedPasswordA) || strings.Contains(out, feedPasswordB) {
		t.Fatalf("validate printed a feed password\n%s", out)
	}
}

// A transform of a sensitive feed column, in a check's message or in a
// request header, is a secret too: it was matched by value only, so
// upper(feed.password) reached the outputs.
func TestATransformOfASensitiveFeedColumnIsNotShown(t *testing.T) {
	srv := loginServer(t)
	dir := t.TempDir()
	csv := "user,password\nalice,pwALPHAsecret1\nbob,pwBETAsecret22\n"
	src := `target "t" { url = "` + srv.URL + `" }
performance "p" {
  target = target.t
  feed {
    file      = "users.csv"
    sensitive = ["password"]
  }
  load {
    rate     = 10
    duration = "1s"
  }
  journey "j" {
    step "login" {
      http {
        path    = "/"
        headers = { X-Check = replace(feed.password, "secret", "S3CR3T") }
      }
      assert {
        condition     = response.json.role == "admin"
        error_message = "${feed.user} ${upper(feed.password)} ${substr(feed.password, 0, 8)} role ${response.json.role}"
      }
    }
  }
}
`
	writeTestFiles(t, dir, map[string]string{"main.hcl": src, "users.csv": csv})
	r := runDirForLeaks(t, dir)
	if r.code == 0 {
		t.Fatalf("the run passed although every check failed\n%s", r.terminal)
	}
	r.expectFound(t, "report.json", "role user")
	r.expectNoLeak(t, map[string]string{
		"a": "pwALPHAsecret1", "a-upper": "PWALPHASECRET1", "a-substr": "pwALPHAs ", "a-swap": "pwALPHAS3CR3T1",
		"b": "pwBETAsecret22", "b-upper": "PWBETASECRET22", "b-substr": "pwBETAse ", "b-swap": "pwBETAS3CR3T22",
	})
}

// A capture computed from a sensitive feed column is a secret too, in a
// later step's message under load, in one generator's outputs and in a
// shared load's (its parts and the generators' files).
func TestACaptureOfASensitiveFeedColumnIsNotShown(t *testing.T) {
	srv := loginServer(t)
	for _, workers := range []string{"", "workers = 2"} {
		dir := t.TempDir()
		src := `target "t" { url = "` + srv.URL + `" }
performance "p" {
  target = target.t
  feed {
    file      = "users.csv"
    sensitive = ["password"]
  }
  load {
    rate     = 10
    duration = "2500ms"
    ` + workers + `
  }
  journey "j" {
    step "a" {
      http { path = "/" }
      capture { p = upper(feed.password) }
    }
    step "b" {
      http { path = "/" }
      assert {
        condition     = response.json.role == "admin"
        error_message = "cap ${capture.p} role ${response.json.role}"
      }
    }
  }
}
`
		writeTestFiles(t, dir, map[string]string{"main.hcl": src, "users.csv": "user,password\nalice,pwALPHAsecret1\nbob,pwBETAsecret22\n"})
		r := runDirForLeaks(t, dir)
		if r.code == 0 {
			t.Fatalf("%s: the run passed although every check failed\n%s", workers, r.terminal)
		}
		r.expectFound(t, "report.json", "cap [REDACTED] role user")
		r.expectNoLeak(t, map[string]string{
			"a": "pwALPHAsecret1", "a-upper": "PWALPHASECRET1",
			"b": "pwBETAsecret22", "b-upper": "PWBETASECRET22",
		})
	}
}

// writeTestFiles writes each file (its name relative to dir) with its body.
func writeTestFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
