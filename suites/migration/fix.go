package migration

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cloudtest/cloudtest/internal/step"
)

// FixFile is the name, in the run directory, of the statements that would
// bring the targets in line. cloudtest never runs them.
const FixFile = "fix.sql"

// fixFiles serializes the suites appending to one run directory's fix.sql.
var fixFiles sync.Mutex

// fixWriter streams one table's fix statements to a file of its own, which
// is appended to fix.sql as one block when the table is done, so that
// tables compared at the same time do not interleave.
type fixWriter struct {
	mu      sync.Mutex
	dir     string
	tmp     string
	f       *os.File
	w       *bufio.Writer
	n       int64
	err     error
	dialect string
	table   string // quoted target table
	// red knows the run's secrets: a statement that would write one is
	// written commented out, the secret redacted.
	red *step.Redactor
}

func newFixWriter(dir, suite, table, dialect string, red *step.Redactor) *fixWriter {
	fw := &fixWriter{dir: dir, dialect: dialect, red: red}
	fw.table = fw.tableName(table)
	fw.tmp = filepath.Join(dir, fmt.Sprintf(".fix-%s-%s.sql.tmp", safeName(suite), safeName(table)))
	return fw
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == '.' {
			return '_'
		}
		return r
	}, s)
}

func (fw *fixWriter) emit(stmt string) {
	if fw == nil {
		return
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.err != nil {
		return
	}
	if fw.f == nil {
		fw.f, fw.err = os.Create(fw.tmp)
		if fw.err != nil {
			return
		}
		fw.w = bufio.NewWriterSize(fw.f, 64<<10)
	}
	fw.n++
	switch {
	case strings.Contains(stmt, secretLiteral):
		// The run's outputs never hold a secret, this file neither: the
		// statement is for a person to complete.
		stmt = "-- holds a secret, redacted (write the value in by hand): " + oneLine(stmt)
	case strings.Contains(stmt, nulLiteral):
		stmt = "-- a value holds a NUL byte, which PostgreSQL text cannot store (write it by hand): " + oneLine(stmt)
	}
	_, fw.err = fw.w.WriteString(stmt + "\n")
}

// finish appends the table's statements to fix.sql under a header and
// returns how many there were.
func (fw *fixWriter) finish(header string) (int64, error) {
	if fw == nil || fw.f == nil {
		return 0, nil
	}
	defer os.Remove(fw.tmp)
	if fw.err == nil {
		fw.err = fw.w.Flush()
	}
	if fw.err == nil {
		_, fw.err = fw.f.Seek(0, io.SeekStart)
	}
	if fw.err != nil {
		fw.f.Close()
		return fw.n, fw.err
	}
	fixFiles.Lock()
	defer fixFiles.Unlock()
	out, err := os.OpenFile(filepath.Join(fw.dir, FixFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err == nil {
		st, _ := out.Stat()
		if st != nil && st.Size() == 0 {
			_, err = io.WriteString(out, "-- Statements that would bring the target in line with the source, written by cloudtest\n-- for review. cloudtest never runs them; check each against the source before you do.\n")
		}
		if err == nil {
			dialect := fw.dialect
			if dialect == "csv" {
				dialect = "the target is a CSV file: standard SQL, for a database its file is loaded into"
			}
			_, err = fmt.Fprintf(out, "\n-- %s (%d statements, %s)\n", header, fw.n, dialect)
		}
		if err == nil {
			_, err = io.Copy(out, fw.f)
		}
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	fw.f.Close()
	return fw.n, err
}

func (fw *fixWriter) ident(name string) string {
	if fw.dialect == "mysql" {
		return "`" + strings.ReplaceAll(name, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (fw *fixWriter) tableName(name string) string {
	if sch, t, ok := strings.Cut(name, "."); ok {
		return fw.ident(sch) + "." + fw.ident(t)
	}
	return fw.ident(name)
}

// secretLiteral stands for a value that holds a secret (one of the
// run's, or what looks like a password): not valid SQL, and the statement
// is written as a comment.
const secretLiteral = step.Redacted

// nulLiteral stands for a text value with a NUL byte on PostgreSQL: its
// text cannot hold one, and psql reading the file cuts the line there
// (the next statement's quote then closes the literal, and the value
// after it runs as SQL).
const nulLiteral = "[NUL BYTE]"

// oneLine is s on one line, for a comment: PostgreSQL and MySQL end a
// "--" comment at a carriage return as at a line feed, and psql cuts a
// line at a NUL byte.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ", "\x00", `\0`).Replace(s)
}

// literal writes a source value as a literal of the target's dialect, or
// secretLiteral when it holds a secret.
func (fw *fixWriter) literal(p *pair, v val) string {
	if v.null {
		return "NULL"
	}
	if fw.red != nil && fw.red.String(v.s) != v.s {
		return secretLiteral
	}
	switch p.tgt.Class {
	case cInt, cDecimal, cFloat:
		if _, ok := normDecimal(v.s); ok || strings.ContainsAny(v.s, "eE") {
			return v.s
		}
	case cBool:
		b := v.s == "true" || v.s == "1"
		switch {
		case fw.dialect == "mysql" && b:
			return "1"
		case fw.dialect == "mysql":
			return "0"
		case b:
			return "TRUE"
		}
		return "FALSE"
	case cBytes:
		if fw.dialect == "mysql" {
			return fmt.Sprintf("X'%x'", v.s)
		}
		return fmt.Sprintf(`'\x%x'::bytea`, v.s)
	}
	s := v.s
	if p.src.Class == cTimestamp || p.src.Class == cTime {
		s = display(p.src, v)
	}
	return fw.quote(s)
}

// quote writes a string literal. MySQL: quotes doubled, and a value with
// a backslash or a control character as a hex literal (X'…'), which reads
// the same whatever the server's sql_mode (under NO_BACKSLASH_ESCAPES a
// \' would close the literal and let the rest of the value run as SQL).
// PostgreSQL doubles quotes, uses E” when a backslash must be kept, and
// gives nulLiteral for a NUL byte.
func (fw *fixWriter) quote(s string) string {
	if fw.dialect == "mysql" {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '\\' || c < ' ' || c == 0x7f {
				return fmt.Sprintf("X'%x'", s)
			}
		}
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return nulLiteral
	}
	q := "'" + strings.ReplaceAll(s, "'", "''") + "'"
	if strings.Contains(s, `\`) {
		q = "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
	}
	return q
}

func (fw *fixWriter) keyCond(tr *tableRun, r []val) string {
	parts := make([]string, len(tr.p.keyPairs))
	for i, kp := range tr.p.keyPairs {
		parts[i] = fw.ident(kp.tgtN) + " = " + fw.literal(kp, r[i])
	}
	return strings.Join(parts, " AND ")
}

func (fw *fixWriter) insert(tr *tableRun, s []val) {
	if fw == nil {
		return
	}
	ps := tr.allPairs()
	cols, vals := make([]string, len(ps)), make([]string, len(ps))
	for i, p := range ps {
		cols[i], vals[i] = fw.ident(p.tgtN), fw.literal(p, s[i])
	}
	fw.emit("INSERT INTO " + fw.table + " (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ");")
}

func (fw *fixWriter) delete(tr *tableRun, t []val) {
	if fw == nil {
		return
	}
	fw.emit("DELETE FROM " + fw.table + " WHERE " + fw.keyCond(tr, t) + ";")
}

func (fw *fixWriter) update(tr *tableRun, s []val, cols []int) {
	if fw == nil {
		return
	}
	ps := tr.allPairs()
	set := make([]string, len(cols))
	for i, c := range cols {
		set[i] = fw.ident(ps[c].tgtN) + " = " + fw.literal(ps[c], s[c])
	}
	fw.emit("UPDATE " + fw.table + " SET " + strings.Join(set, ", ") + " WHERE " + fw.keyCond(tr, s) + ";")
}

func (fw *fixWriter) duplicate(tr *tableRun, role string, r []val) {
	if fw == nil {
		return
	}
	cond := fw.keyCond(tr, r)
	if role == "source" {
		fw.emit("-- the source has the key " + oneLine(cond) + " more than once: nothing to do on the target, but check the source")
		return
	}
	switch fw.dialect {
	case "mysql":
		fw.emit("DELETE FROM " + fw.table + " WHERE " + cond + " LIMIT 1; -- a duplicate of the key: check which copy to keep")
		return
	case "csv":
		// Standard SQL has no way to name one of two equal rows (ctid is
		// PostgreSQL's, LIMIT in a DELETE MySQL's).
		fw.emit("-- the target has the key " + oneLine(cond) + " more than once: remove one copy from its file (check which to keep)")
		return
	}
	fw.emit("DELETE FROM " + fw.table + " WHERE ctid IN (SELECT ctid FROM " + fw.table + " WHERE " + cond + " LIMIT 1); -- a duplicate of the key: check which copy to keep")
}
