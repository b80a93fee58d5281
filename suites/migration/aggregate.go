package migration

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// aggregate is what one side says of one column: count of values, NULLs,
// smallest and largest value, the sum of a number column and the total
// length in characters of a text column.
type aggregate struct {
	count, nulls int64
	min, max     val
	hasMinMax    bool
	sum          val
	hasSum       bool
	length       int64
	hasLength    bool
}

func hasMinMax(c class) bool { return c != cBytes && c != cOther }

// aggregates computes every column's aggregate in one statement.
func (s *sqlSide) aggregates(ctx context.Context, table, where string, cols []column) ([]aggregate, error) {
	sel := s.aggregateExprs(cols)
	row := s.db.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+s.table(table)+s.whereClause(where))
	raw := make([]any, len(sel))
	ptrs := make([]any, len(sel))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	if err := row.Scan(ptrs...); err != nil {
		return nil, err
	}
	return readAggregates(cols, raw)
}

// aggregateExprs are the select list of the aggregates of cols, in the
// order readAggregates takes them: count, nulls, then min and max, a sum
// or a total length as the column's class has them.
func (s *sqlSide) aggregateExprs(cols []column) []string {
	var sel []string
	for _, c := range cols {
		id := s.ident(c.name)
		sel = append(sel, "COUNT("+id+")", "COUNT(*) - COUNT("+id+")")
		if hasMinMax(c.t.Class) {
			lo, hi := "MIN("+id+")", "MAX("+id+")"
			switch {
			case c.t.Class == cText && s.pg:
				lo, hi = "MIN("+id+`::text COLLATE "C")`, "MAX("+id+`::text COLLATE "C")`
			case c.t.Class == cText:
				lo, hi = "MIN(BINARY "+id+")", "MAX(BINARY "+id+")"
			case c.t.Class == cBool && s.pg:
				lo, hi = "BOOL_AND("+id+")", "BOOL_OR("+id+")"
			}
			sel = append(sel, lo, hi)
		}
		switch {
		case c.t.Class.numeric():
			sum := "SUM(" + id + ")"
			if s.pg {
				sum += "::text"
			}
			sel = append(sel, sum)
		case c.t.Class == cText:
			sel = append(sel, "COALESCE(SUM(CHAR_LENGTH("+id+")), 0)")
		}
	}
	return sel
}

// readAggregates turns the row of aggregateExprs into each column's aggregate.
func readAggregates(cols []column, raw []any) ([]aggregate, error) {
	out := make([]aggregate, len(cols))
	i := 0
	take := func() any { v := raw[i]; i++; return v }
	for ci, c := range cols {
		a := &out[ci]
		var err error
		if a.count, err = toInt(take()); err != nil {
			return nil, err
		}
		if a.nulls, err = toInt(take()); err != nil {
			return nil, err
		}
		if hasMinMax(c.t.Class) {
			a.hasMinMax = true
			if a.min, err = canon(&c.t, take()); err != nil {
				return nil, fmt.Errorf("min(%s): %w", c.name, err)
			}
			if a.max, err = canon(&c.t, take()); err != nil {
				return nil, fmt.Errorf("max(%s): %w", c.name, err)
			}
		}
		switch {
		case c.t.Class.numeric():
			a.hasSum = true
			st := sumType(&c.t)
			if a.sum, err = canon(st, take()); err != nil {
				return nil, fmt.Errorf("sum(%s): %w", c.name, err)
			}
		case c.t.Class == cText:
			a.hasLength = true
			if a.length, err = toInt(take()); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// sumType is the type a column's sum is compared as.
func sumType(t *colType) *colType {
	if t.Class == cFloat {
		return &colType{Class: cFloat}
	}
	return &colType{Class: cDecimal, Scale: 0}
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case nil:
		return 0, nil
	case float64:
		return int64(x), nil
	}
	s := strings.TrimSpace(text(v))
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	return strconv.ParseInt(s, 10, 64)
}

// aggAcc accumulates a column's aggregate from a stream of values, for
// sides that cannot compute it themselves (csv).
type aggAcc struct {
	t   *colType
	a   aggregate
	sum *big.Rat
	f   float64
	// Decimals of at most 9 fractional digits add up exactly in units of
	// 1e-9 in an int64, flushed to sum before it could overflow.
	units int64
	frac  int // the most fractional digits of a value that did not fit
}

const unitDigits = 9

// addDecimal adds a canonical decimal; the common case allocates nothing.
func (acc *aggAcc) addDecimal(s string) {
	neg := strings.HasPrefix(s, "-")
	d := strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(d, ".")
	if len(ip) > 9 || len(fp) > unitDigits || !digits(ip) || !digits(fp) {
		if r, ok := new(big.Rat).SetString(s); ok {
			acc.sum.Add(acc.sum, r)
			acc.frac = max(acc.frac, decimalScale(s))
		}
		return
	}
	var u int64
	for i := 0; i < len(ip); i++ {
		u = u*10 + int64(ip[i]-'0')
	}
	for i := 0; i < unitDigits; i++ {
		u *= 10
		if i < len(fp) {
			u += int64(fp[i] - '0')
		}
	}
	if neg {
		u = -u
	}
	acc.units += u
	if acc.units > 1<<61 || acc.units < -(1<<61) {
		acc.flush()
	}
}

func (acc *aggAcc) flush() {
	acc.sum.Add(acc.sum, new(big.Rat).SetFrac(big.NewInt(acc.units), big.NewInt(1_000_000_000)))
	acc.units = 0
}

// merge adds what another accumulator of the same column saw.
func (acc *aggAcc) merge(o *aggAcc) {
	o.flush()
	acc.a.count += o.a.count
	acc.a.nulls += o.a.nulls
	acc.a.length += o.a.length
	acc.f += o.f
	acc.sum.Add(acc.sum, o.sum)
	acc.frac = max(acc.frac, o.frac)
	if !o.a.min.null && (acc.a.min.null || cmpVal(acc.t.Class, o.a.min, acc.a.min) < 0) {
		acc.a.min = o.a.min
	}
	if !o.a.max.null && (acc.a.max.null || cmpVal(acc.t.Class, o.a.max, acc.a.max) > 0) {
		acc.a.max = o.a.max
	}
}

func newAggAcc(t *colType) *aggAcc {
	return &aggAcc{t: t, a: aggregate{hasMinMax: hasMinMax(t.Class), hasSum: t.Class.numeric(), hasLength: t.Class == cText,
		min: val{null: true}, max: val{null: true}}, sum: new(big.Rat)}
}

func (acc *aggAcc) add(v val) {
	if v.null {
		acc.a.nulls++
		return
	}
	acc.a.count++
	if acc.a.hasMinMax {
		if acc.a.min.null || cmpVal(acc.t.Class, v, acc.a.min) < 0 {
			acc.a.min = v
		}
		if acc.a.max.null || cmpVal(acc.t.Class, v, acc.a.max) > 0 {
			acc.a.max = v
		}
	}
	switch {
	case acc.t.Class == cFloat:
		f, _ := strconv.ParseFloat(v.s, 64)
		acc.f += f
	case acc.a.hasSum:
		acc.addDecimal(v.s)
	case acc.a.hasLength:
		acc.a.length += int64(utf8.RuneCountInString(v.s))
	}
}

func (acc *aggAcc) result() aggregate {
	acc.flush()
	a := acc.a
	if a.hasSum {
		switch {
		case a.count == 0:
			a.sum = val{null: true}
		case acc.t.Class == cFloat:
			a.sum = val{s: strconv.FormatFloat(acc.f, 'g', -1, 64)}
		default:
			a.sum = val{s: strings.TrimSuffix(strings.TrimRight(acc.sum.FloatString(max(unitDigits, acc.frac)), "0"), ".")}
		}
	}
	return a
}

// movesText says whether a reason ignore accepts moves a text column's
// smallest and largest values and its length.
func movesText(reason string) bool {
	return reason == ReasonTrailingSpace || reason == ReasonCase || reason == ReasonNormalization
}

// compareAggregates names every measure that differs. When ignore accepts
// a trailing space, a case change or another Unicode normalization, the smallest and largest values and
// the length of a text column are not compared (loose names those
// columns): such accepted changes move them ("Bob" sorts before "alice",
// "alice " is longer), and the rows level judges each value.
func compareAggregates(pairs []*pair, src, tgt []aggregate, ignore []string) (out, loose []string) {
	textLoose := slices.ContainsFunc(ignore, movesText)
	for i, p := range pairs {
		a, b := src[i], tgt[i]
		name := p.srcN
		if p.tgtN != p.srcN {
			name += " → " + p.tgtN
		}
		if a.count != b.count {
			out = append(out, fmt.Sprintf("%s: %d values on the source, %d on the target", name, a.count, b.count))
		}
		if a.nulls != b.nulls {
			out = append(out, fmt.Sprintf("%s: %d NULLs on the source, %d on the target", name, a.nulls, b.nulls))
		}
		text := p.src.Class == cText || p.tgt.Class == cText
		if text && textLoose {
			loose = append(loose, name)
		}
		if a.hasMinMax && b.hasMinMax && !(text && textLoose) {
			if d, why := p.differ(a.min, b.min); d && !slices.Contains(ignore, why) {
				out = append(out, fmt.Sprintf("%s: smallest value %s on the source, %s on the target (%s)", name, shown(display(p.src, a.min), why), shown(display(p.tgt, b.min), why), why))
			}
			if d, why := p.differ(a.max, b.max); d && !slices.Contains(ignore, why) {
				out = append(out, fmt.Sprintf("%s: largest value %s on the source, %s on the target (%s)", name, shown(display(p.src, a.max), why), shown(display(p.tgt, b.max), why), why))
			}
		}
		if a.hasSum && b.hasSum {
			sp := &pair{src: sumType(p.src), tgt: sumType(p.tgt), cls: cDecimal, tol: p.tol * float64(max(a.count, 1))}
			if p.src.Class == cFloat || p.tgt.Class == cFloat {
				// Sums of floats depend on the order of addition.
				sp.cls, sp.rel = cFloat, 1e-9
			}
			if d, _ := sp.differ(a.sum, b.sum); d {
				out = append(out, fmt.Sprintf("%s: sum %s on the source, %s on the target", name, a.sum.s, b.sum.s))
			}
		}
		if a.hasLength && b.hasLength && a.length != b.length && !(text && textLoose) {
			out = append(out, fmt.Sprintf("%s: %d characters in all on the source, %d on the target", name, a.length, b.length))
		}
	}
	return out, loose
}

// shown is a value as a person reads it beside the reason it differs:
// with every character outside ASCII escaped when the reason is another
// Unicode normalization, which looks the same on both sides otherwise.
func shown(v, reason string) string {
	if reason == ReasonNormalization {
		return strings.Trim(strconv.QuoteToASCII(v), `"`)
	}
	return v
}
