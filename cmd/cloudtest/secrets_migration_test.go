package main

import (
	"os"
	"path/filepath"
	"testing"
)

// A secret in a migrated table is kept out of every output, fix.sql too,
// in the other Unicode normalization as well: a target that stored the
// sensitive variable's "Zürich…" decomposed showed it (escaped, as a
// finding of another normalization is), and fix.sql wrote the source's
// value in its UPDATE and INSERT.
func TestASecretInAMigratedTableIsNotShown(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"main.hcl": `
variable "pw" {
  sensitive = true
  default   = "Z\u00fcrichGeheim1"
}
migration "m" {
  component = "core"
  source {
    driver = "csv"
    dsn    = "src"
    types  = { "w.id" = "integer" }
  }
  target {
    driver = "csv"
    dsn    = "dst"
    types  = { "w.id" = "integer" }
  }
  table "w" { key = ["id"] }
}
`,
		"src/w.csv": "id,name\n1,alice\n2,Z\u00fcrichGeheim1\n3,Z\u00fcrichGeheim1\n",
		"dst/w.csv": "id,name\n1,alice\n2,Zu\u0308richGeheim1\n",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := runDirForLeaks(t, dir)
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "terminal", "(unicode normalization)")
	r.expectFound(t, "fix.sql", `-- holds a secret, redacted (write the value in by hand): UPDATE "w" SET "name" = '[REDACTED]' WHERE "id" = 2;`)
	r.expectFound(t, "fix.sql", `-- holds a secret, redacted (write the value in by hand): INSERT INTO "w"`)
	r.expectNoLeak(t, map[string]string{
		"nfc": "Z\u00fcrichGeheim1", "nfd": "Zu\u0308richGeheim1",
		"nfc-escaped": `Z\u00fcrichGeheim1`, "nfd-escaped": `Zu\u0308richGeheim1`,
	})
}
