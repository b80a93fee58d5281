package migration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// plan is a table ready to compare: the column pairs, the key and what
// the schema level found.
type plan struct {
	t        *Table
	keyPairs []*pair // key columns, in key order
	pairs    []*pair // the other compared columns
	classes  []class // key classes, for ordering
	intKey   bool    // a single integer key: the key space can be ranged
	// keyUnique says both sides enforce the key's uniqueness; otherwise
	// every row is fetched, so that a repeated key is seen.
	keyUnique bool
	findings  []string
	notes     []string
}

// inputError is a mistake in the suite that the databases revealed: it
// names the HCL line it is about.
type inputError struct {
	rng *hcl.Range
	msg string
}

func (e *inputError) Error() string {
	if e.rng == nil {
		return e.msg
	}
	return fmt.Sprintf("on %s line %d: %s", e.rng.Filename, e.rng.Start.Line, e.msg)
}

func inErr(rng *hcl.Range, format string, args ...any) error {
	return &inputError{rng: rng, msg: fmt.Sprintf(format, args...)}
}

// buildPlan reads both sides' columns and keys and pairs the columns.
func buildPlan(ctx context.Context, t *Table, src, tgt side) (*plan, error) {
	sh, err := readShapes(ctx, t, src, tgt)
	if err != nil {
		return nil, err
	}
	if err := sh.checkNames(); err != nil {
		return nil, err
	}
	key, err := sh.key(ctx)
	if err != nil {
		return nil, err
	}
	p := &plan{t: t}
	if err := sh.pairKey(ctx, p, key); err != nil {
		return nil, err
	}
	sh.pairColumns(p, key)
	return p, nil
}

// shapes are the columns of both sides of a table, as read.
type shapes struct {
	t        *Table
	src, tgt side
	sc, tc   []column
	sm, tm   map[string]*column
}

// readShapes reads the columns of both sides; a missing table is named
// with its side.
func readShapes(ctx context.Context, t *Table, src, tgt side) (*shapes, error) {
	decl := &t.DeclRange
	sc, err1 := src.columns(ctx, t.Name)
	tc, err2 := tgt.columns(ctx, t.TargetName)
	var errs []error
	for _, e := range []struct {
		err         error
		role, table string
		s           side
	}{{err1, "source", t.Name, src}, {err2, "target", t.TargetName, tgt}} {
		switch {
		case errors.Is(e.err, errNoTable):
			errs = append(errs, inErr(decl, "the table %q does not exist on the %s (%s %s)", e.table, e.role, e.s.dialect(), e.s.describe()))
		case e.err != nil:
			errs = append(errs, inErr(decl, "reading the columns of %q on the %s: %v", e.table, e.role, e.err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	byName := func(cols []column) map[string]*column {
		m := map[string]*column{}
		for i := range cols {
			m[cols[i].name] = &cols[i]
		}
		return m
	}
	return &shapes{t: t, src: src, tgt: tgt, sc: sc, tc: tc, sm: byName(sc), tm: byName(tc)}, nil
}

func columnNames(cols []column) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return strings.Join(out, ", ")
}

// target is the target's name of the source column c.
func (sh *shapes) target(c string) string {
	if r, ok := sh.t.Rename[c]; ok {
		return r
	}
	return c
}

// checkNames checks that every column rename, columns and tolerance name
// exists where it must.
func (sh *shapes) checkNames() error {
	t := sh.t
	var errs []error
	for from, to := range t.Rename {
		if sh.sm[from] == nil {
			errs = append(errs, inErr(t.RenameRange, "rename: the source table %q has no column %q (its columns: %s)", t.Name, from, columnNames(sh.sc)))
		}
		if sh.tm[to] == nil {
			errs = append(errs, inErr(t.RenameRange, "rename: the target table %q has no column %q (its columns: %s)", t.TargetName, to, columnNames(sh.tc)))
		}
	}
	for _, c := range t.Columns {
		if sh.sm[c] == nil {
			errs = append(errs, inErr(t.ColumnsRange, "columns: the source table %q has no column %q (its columns: %s)", t.Name, c, columnNames(sh.sc)))
		}
	}
	for c := range t.Tolerance {
		if sh.sm[c] == nil {
			errs = append(errs, inErr(t.ToleranceRange, "tolerance: the source table %q has no column %q", t.Name, c))
		}
	}
	return errors.Join(errs...)
}

// key is the declared key, else the source's primary key, else the
// target's (in the source's names); its columns must exist on both sides.
func (sh *shapes) key(ctx context.Context) ([]string, error) {
	t, decl := sh.t, &sh.t.DeclRange
	key := t.Key
	if len(key) == 0 {
		key = primaryKey(ctx, sh.src, t.Name)
		if len(key) == 0 {
			if tk := primaryKey(ctx, sh.tgt, t.TargetName); len(tk) > 0 {
				key = make([]string, len(tk))
				inv := map[string]string{}
				for k, v := range t.Rename {
					inv[v] = k
				}
				for i, c := range tk {
					if s, ok := inv[c]; ok {
						c = s
					}
					key[i] = c
				}
			}
		}
		if len(key) == 0 {
			return nil, inErr(decl, "the table %q has no primary key on either side: declare the columns that identify a row, such as key = [\"id\"]", t.Name)
		}
	}
	var errs []error
	for _, k := range key {
		if sh.sm[k] == nil {
			errs = append(errs, inErr(orRange(t.KeyRange, decl), "key: the source table %q has no column %q (its columns: %s)", t.Name, k, columnNames(sh.sc)))
		} else if sh.tm[sh.target(k)] == nil {
			errs = append(errs, inErr(orRange(t.KeyRange, decl), "key: the target table %q has no column %q (its columns: %s)", t.TargetName, sh.target(k), columnNames(sh.tc)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return key, nil
}

// pairKey pairs the key's columns (they must sort alike on both sides)
// and finds whether the key is declared unique on each side.
func (sh *shapes) pairKey(ctx context.Context, p *plan, key []string) error {
	t := sh.t
	for _, k := range key {
		kp := newPair(sh.sm[k], sh.tm[sh.target(k)], 0)
		if !orderCompatible(kp.src.Class, kp.tgt.Class) {
			return inErr(orRange(t.KeyRange, &t.DeclRange), "key: the column %q is %s on the source and %s on the target, which sort differently: rows cannot be matched in key order", k, sh.sm[k].t.Class, sh.tm[sh.target(k)].t.Class)
		}
		p.keyPairs = append(p.keyPairs, kp)
		p.classes = append(p.classes, kp.cls)
	}
	p.intKey = len(key) == 1 && p.keyPairs[0].src.Class == cInt && p.keyPairs[0].tgt.Class == cInt
	p.keyUnique = true
	for _, side := range []struct {
		s          side
		role, name string
		key        []string
	}{{sh.src, "source", t.Name, key}, {sh.tgt, "target", t.TargetName, mapped(key, sh.target)}} {
		uks, err := side.s.uniqueKeys(ctx, side.name)
		if err != nil || !hasUnique(uks, side.key) {
			p.keyUnique = false
		}
		if err == nil && !hasUnique(uks, side.key) {
			p.notes = append(p.notes, fmt.Sprintf("the key (%s) is not declared unique on the %s: duplicate keys are looked for row by row", strings.Join(side.key, ", "), side.role))
		}
	}
	return nil
}

// pairColumns pairs the compared columns, with the schema findings of
// each (missing on the target, narrower types) and notes on the columns
// only the target has.
func (sh *shapes) pairColumns(p *plan, key []string) {
	t := sh.t
	cols := t.Columns
	if len(cols) == 0 {
		for _, c := range sh.sc {
			if !slices.Contains(t.Exclude, c.name) {
				cols = append(cols, c.name)
			}
		}
	}
	used := map[string]bool{}
	for _, k := range key {
		used[sh.target(k)] = true
	}
	for _, c := range cols {
		if slices.Contains(key, c) {
			continue
		}
		tn := sh.target(c)
		tcol := sh.tm[tn]
		if tcol == nil {
			p.findings = append(p.findings, fmt.Sprintf("the column %q (%s) is missing on the target", c+renamed(c, tn), sh.sm[c].t.Text))
			continue
		}
		used[tn] = true
		pr := newPair(sh.sm[c], tcol, t.Tolerance[c])
		p.pairs = append(p.pairs, pr)
		f, n := compareTypes(c+renamed(c, tn), &sh.sm[c].t, &tcol.t)
		p.findings = append(p.findings, f...)
		p.notes = append(p.notes, n...)
	}
	for _, kp := range p.keyPairs {
		f, n := compareTypes(kp.srcN+renamed(kp.srcN, kp.tgtN), kp.src, kp.tgt)
		p.findings = append(p.findings, f...)
		p.notes = append(p.notes, n...)
	}
	for _, c := range sh.tc {
		if !used[c.name] && !slices.Contains(t.Exclude, c.name) && len(t.Columns) == 0 {
			what := "is only on the target"
			if !c.t.Nullable {
				what += " (NOT NULL: it needs a default)"
			}
			p.notes = append(p.notes, fmt.Sprintf("the column %q %s", c.name, what))
		}
	}
}

func orRange(r, def *hcl.Range) *hcl.Range {
	if r != nil {
		return r
	}
	return def
}

func renamed(s, t string) string {
	if s == t {
		return ""
	}
	return " → " + t
}

func mapped(cols []string, f func(string) string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = f(c)
	}
	return out
}

func primaryKey(ctx context.Context, s side, table string) []string {
	uks, err := s.uniqueKeys(ctx, table)
	if err != nil {
		return nil
	}
	for _, k := range uks {
		if k.primary {
			return k.cols
		}
	}
	return nil
}

func hasUnique(uks []uniqueKey, key []string) bool {
	for _, k := range uks {
		if len(k.cols) == len(key) {
			all := true
			for _, c := range k.cols {
				all = all && slices.Contains(key, c)
			}
			if all {
				return true
			}
		}
	}
	return false
}

func orderCompatible(a, b class) bool {
	if a == b {
		return true
	}
	num := func(c class) bool { return c.numeric() || c == cBool }
	return (num(a) && num(b)) || ((a == cText || a == cOther) && (b == cText || b == cOther))
}

// newPair pairs two columns and decides the class they are compared as;
// a side of another class is canonicalized as that class where it can be
// (a MySQL tinyint against a boolean, a date against a timestamp).
func newPair(s, t *column, tol float64) *pair {
	st, tt := s.t, t.t
	p := &pair{src: &st, tgt: &tt, srcN: s.name, tgtN: t.name, tol: tol, cls: st.Class}
	a, b := st.Class, tt.Class
	switch {
	case a == b:
	case a == cText || b == cText:
		p.cls = cText
	case (a == cBool && b == cInt) || (a == cInt && b == cBool):
		p.cls = cInt
		p.src.Class, p.tgt.Class = cInt, cInt
	case a.numeric() && b.numeric():
		switch {
		case a == cFloat || b == cFloat:
			p.cls = cFloat
		default:
			p.cls = cDecimal
		}
		// Each side keeps its own canonical form (an integer is a decimal
		// of scale 0); the comparison is by value.
	case (a == cDate && b == cTimestamp) || (a == cTimestamp && b == cDate):
		p.cls = cTimestamp
		for _, x := range []*colType{p.src, p.tgt} {
			if x.Class == cDate {
				x.Class, x.Frac = cTimestamp, 0
			}
		}
	default:
		p.cls = cText
	}
	return p
}

// compareTypes names what is lost between a source and a target column
// (findings) and what differs harmlessly (notes).
func compareTypes(name string, s, t *colType) (findings, notes []string) {
	r := &typeReport{name: name}
	if s.Class != t.Class {
		r.classChanged(s, t)
		return r.findings, r.notes
	}
	r.sameClass(s, t)
	if s.Nullable != t.Nullable {
		if t.Nullable {
			r.note("NOT NULL on the source, nullable on the target")
		} else {
			r.note("nullable on the source, NOT NULL on the target")
		}
	}
	return r.findings, r.notes
}

// typeReport collects what compareTypes finds about one column.
type typeReport struct {
	name            string
	findings, notes []string
}

func (r *typeReport) find(format string, args ...any) {
	r.findings = append(r.findings, fmt.Sprintf("%s: ", r.name)+fmt.Sprintf(format, args...))
}

func (r *typeReport) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf("%s: ", r.name)+fmt.Sprintf(format, args...))
}

// classChanged judges a column whose class differs between the sides: a
// few changes keep every value, the others are findings.
func (r *typeReport) classChanged(s, t *colType) {
	switch {
	case (s.Class == cBool && t.Class == cInt) || (s.Class == cInt && t.Class == cBool):
		r.note("%s on the source, %s on the target (compared as 0 and 1)", s.Text, t.Text)
	case s.Class == cInt && t.Class == cDecimal && t.Precision-t.Scale >= intDigits(s):
		r.note("%s on the source, %s on the target (wide enough)", s.Text, t.Text)
	case s.Class == cDate && t.Class == cTimestamp:
		r.note("%s on the source, %s on the target (dates at midnight)", s.Text, t.Text)
	default:
		r.find("the type changed from %s (%s) on the source to %s (%s) on the target", s.Text, s.Class, t.Text, t.Class)
	}
}

// sameClass judges a column of one class on both sides: narrower is a
// finding, wider a note.
func (r *typeReport) sameClass(s, t *colType) {
	switch s.Class {
	case cText, cBytes:
		if t.Length > 0 && (s.Length == 0 || t.Length < s.Length) {
			r.find("narrower on the target: %s on the source, %s on the target", s.Text, t.Text)
		}
		if s.Padded != t.Padded {
			r.note("%s on the source, %s on the target: char pads values with spaces, so trailing spaces may differ", s.Text, t.Text)
		}
	case cInt:
		if s.Bytes > 0 && t.Bytes > 0 && (t.Bytes < s.Bytes || (s.Unsigned && !t.Unsigned && t.Bytes == s.Bytes)) {
			r.find("narrower on the target: %s on the source, %s on the target", s.Text, t.Text)
		} else if t.Unsigned && !s.Unsigned {
			r.find("%s on the source, %s on the target: negative values cannot be stored", s.Text, t.Text)
		}
	case cDecimal:
		if s.Scale >= 0 && t.Scale >= 0 {
			switch {
			case t.Scale < s.Scale:
				r.find("fewer decimal places on the target: %s on the source, %s on the target (values are rounded)", s.Text, t.Text)
			case t.Precision-t.Scale < s.Precision-s.Scale:
				r.find("fewer integer digits on the target: %s on the source, %s on the target", s.Text, t.Text)
			case t.Scale != s.Scale || t.Precision != s.Precision:
				r.note("%s on the source, %s on the target (wider)", s.Text, t.Text)
			}
		} else if t.Scale >= 0 && s.Scale < 0 {
			r.note("%s on the source keeps each value's scale, %s on the target fixes it", s.Text, t.Text)
		}
	case cFloat:
		if t.Float32 && !s.Float32 {
			r.find("single precision on the target: %s on the source, %s on the target", s.Text, t.Text)
		}
	case cTimestamp, cTime:
		if t.Frac < s.Frac {
			r.find("less precise on the target: %d fractional digits on the source (%s), %d on the target (%s)", s.Frac, s.Text, t.Frac, t.Text)
		}
	}
}

func intDigits(t *colType) int {
	switch t.Bytes {
	case 1:
		return 3
	case 2:
		return 5
	case 3:
		return 8
	case 4:
		return 10
	}
	return 19
}
