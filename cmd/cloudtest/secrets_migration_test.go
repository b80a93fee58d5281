package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A secret in a migrated table is kept out of every output, fix.sql too,
// in the other Unicode normalization as well: a target that stored the
// sensitive variable's "Zürich…" decomposed showed it (escaped, as a
// finding of another normalization is), and fix.sql wrote the source's
// value in its UPDATE and INSERT.
func TestASecretInAMigratedTableIsNotShown(t *testing.T) {
	dir := t.TempDir()
	writeTestFiles(t, dir, map[string]string{
		"main.hcl": `
variable "pw" {
  sensitive = true
  default   = "Z\u00fcrichGeheim1"
}
variable "quoted" {
  sensitive = true
  default   = "It'sMySecret9"
}
variable "blob" {
  sensitive = true
  default   = "BlobSecretXYZ7"
}
migration "m" {
  component = "core"
  source {
    driver = "csv"
    dsn    = "src"
    types  = { "w.id" = "integer", "b.id" = "integer", "b.data" = "bytes" }
  }
  target {
    driver = "csv"
    dsn    = "dst"
    types  = { "w.id" = "integer", "b.id" = "integer", "b.data" = "bytes" }
  }
  table "w" { key = ["id"] }
  table "b" { key = ["id"] }
}
`,
		"src/w.csv": "id,name\n1,alice\n2,Z\u00fcrichGeheim1\n3,Z\u00fcrichGeheim1\n4,It'sMySecret9\n5,\"x\rDELETE FROM w;\"\n6,It'sMySecret9\n",
		"dst/w.csv": "id,name\n1,alice\n2,Zu\u0308richGeheim1\n4,other\n5,y\n6,\"x\rDROP TABLE w;\"\n",
		"src/b.csv": "id,data\n1,plain\n2,BlobSecretXYZ7\n",
		"dst/b.csv": "id,data\n1,plain\n2,other\n",
	})
	r := runDirForLeaks(t, dir)
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d\n%s", r.code, exitRejected, r.terminal)
	}
	r.expectFound(t, "terminal", "(unicode normalization)")
	r.expectFound(t, "fix.sql", `-- holds a secret, redacted (write the value in by hand): UPDATE "w" SET "name" = [REDACTED] WHERE "id" = 2;`)
	r.expectFound(t, "fix.sql", `-- holds a secret, redacted (write the value in by hand): INSERT INTO "w"`)
	// A value that is no secret is written as it is (a carriage return in
	// it too, inside its literal), and none is left live in a comment.
	r.expectFound(t, "fix.sql", "UPDATE \"w\" SET \"name\" = 'x\rDELETE FROM w;' WHERE \"id\" = 5;")
	fix, _ := os.ReadFile(filepath.Join(r.dir, "fix.sql"))
	for _, line := range strings.FieldsFunc(string(fix), func(c rune) bool { return c == '\n' }) {
		if strings.HasPrefix(line, "--") && strings.ContainsRune(line, '\r') {
			t.Errorf("a comment of fix.sql holds a carriage return, after which its text is SQL: %q", line)
		}
	}
	r.expectNoLeak(t, map[string]string{
		"nfc": "Z\u00fcrichGeheim1", "nfd": "Zu\u0308richGeheim1",
		"nfc-escaped": `Z\u00fcrichGeheim1`, "nfd-escaped": `Zu\u0308richGeheim1`,
		"quoted": "It'sMySecret9", "quoted-sql": "It''sMySecret9",
		"blob": "BlobSecretXYZ7", "blob-hex": fmt.Sprintf("%x", "BlobSecretXYZ7"),
	})
}
