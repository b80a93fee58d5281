package migration

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// class is the common type class both sides' columns are compared as.
type class int

const (
	cText class = iota
	cInt
	cDecimal
	cFloat
	cBool
	cDate
	cTimestamp
	cTime
	cBytes
	cOther
)

var classNames = [...]string{"text", "integer", "decimal", "float", "boolean", "date", "timestamp", "time", "bytes", "other"}

func (c class) String() string { return classNames[c] }

func (c class) numeric() bool { return c == cInt || c == cDecimal || c == cFloat }

// colType is a column's type as one database declares it.
type colType struct {
	Text     string // as the database names it: numeric(12,2), varchar(40)
	Class    class
	Length   int64 // characters of a text column, 0 when unbounded
	Bytes    int   // storage size of an integer column (2, 4, 8), 0 unknown
	Unsigned bool
	// Precision and Scale of a decimal column; Scale -1 when undeclared
	// (PostgreSQL numeric without a typmod keeps each value's own scale).
	Precision, Scale int
	// Frac is the fractional-second digits of a timestamp or time column.
	Frac     int
	Float32  bool
	Nullable bool
	Padded   bool // char(n): the database pads or strips trailing spaces
}

// val is one value in canonical form: integers in base 10 (and in i),
// decimals as decimal text with their scale, floats in shortest form,
// booleans as true/false, dates as 2006-01-02, timestamps in UTC as
// 2006-01-02 15:04:05.000000000 (fixed width, so text order is time order),
// text and bytes as their bytes. NULL is distinct from every value.
type val struct {
	null bool
	s    string
	i    int64
}

const tsLayout = "2006-01-02 15:04:05.000000000"

// canon turns what a driver returned into the canonical form of class c.
func canon(t *colType, v any) (val, error) {
	if v == nil {
		return val{null: true}, nil
	}
	switch t.Class {
	case cInt:
		return canonInt(v)
	case cBool:
		return canonBool(v)
	case cDecimal:
		return canonDecimal(v)
	case cFloat:
		return canonFloat(t, v)
	case cDate:
		return canonDate(v)
	case cTimestamp:
		return canonTimestamp(v)
	case cTime:
		return canonTime(v)
	}
	if t.Padded {
		// char(n) pads with spaces that are not data: PostgreSQL returns
		// them, MySQL strips them; both mean the same value.
		return val{s: strings.TrimRight(text(v), " ")}, nil
	}
	return val{s: text(v)}, nil
}

// canonInt reads an integer (a bool as 1 or 0); one past int64 keeps its text.
func canonInt(v any) (val, error) {
	switch x := v.(type) {
	case int64:
		return val{s: strconv.FormatInt(x, 10), i: x}, nil
	case int32:
		return val{s: strconv.FormatInt(int64(x), 10), i: int64(x)}, nil
	case uint64:
		return val{s: strconv.FormatUint(x, 10), i: int64(x)}, nil
	case bool:
		if x {
			return val{s: "1", i: 1}, nil
		}
		return val{s: "0"}, nil
	}
	s := strings.TrimSpace(text(v))
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if _, ok := new(big.Int).SetString(s, 10); !ok {
			return val{}, fmt.Errorf("%q is not an integer", s)
		}
	}
	return val{s: s, i: i}, nil
}

// canonBool reads a boolean from a bool, a number or its usual words.
func canonBool(v any) (val, error) {
	switch x := v.(type) {
	case bool:
		return boolVal(x), nil
	case int64:
		return boolVal(x != 0), nil
	}
	s := strings.TrimSpace(text(v))
	switch strings.ToLower(s) {
	case "1", "t", "true", "y", "yes", "on":
		return boolVal(true), nil
	case "0", "f", "false", "n", "no", "off":
		return boolVal(false), nil
	}
	return val{}, fmt.Errorf("%q is not a boolean", s)
}

// canonDecimal reads a decimal number as its normal text.
func canonDecimal(v any) (val, error) {
	switch x := v.(type) {
	case int64:
		return val{s: strconv.FormatInt(x, 10)}, nil
	case float64:
		return val{s: strconv.FormatFloat(x, 'f', -1, 64)}, nil
	}
	s, ok := normDecimal(strings.TrimSpace(text(v)))
	if !ok {
		return val{}, fmt.Errorf("%q is not a decimal number", text(v))
	}
	return val{s: s}, nil
}

// canonFloat reads a floating-point number at the column's precision.
func canonFloat(t *colType, v any) (val, error) {
	bits := 64
	if t.Float32 {
		bits = 32
	}
	switch x := v.(type) {
	case float64:
		return val{s: strconv.FormatFloat(x, 'g', -1, bits)}, nil
	case float32:
		return val{s: strconv.FormatFloat(float64(x), 'g', -1, 32)}, nil
	case int64:
		return val{s: strconv.FormatInt(x, 10)}, nil
	}
	s := strings.TrimSpace(text(v))
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return val{}, fmt.Errorf("%q is not a number", s)
	}
	return val{s: strconv.FormatFloat(f, 'g', -1, bits)}, nil
}

// canonDate reads a date as YYYY-MM-DD.
func canonDate(v any) (val, error) {
	if x, ok := v.(time.Time); ok {
		return val{s: x.Format("2006-01-02")}, nil
	}
	s := strings.TrimSpace(text(v))
	if len(s) >= 10 {
		s = s[:10]
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return val{}, fmt.Errorf("%q is not a date", s)
	}
	return val{s: s}, nil
}

// canonTimestamp reads a timestamp as UTC in tsLayout.
func canonTimestamp(v any) (val, error) {
	if x, ok := v.(time.Time); ok {
		return val{s: x.UTC().Format(tsLayout)}, nil
	}
	s := strings.TrimSpace(text(v))
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if x, err := time.Parse(layout, s); err == nil {
			return val{s: x.UTC().Format(tsLayout)}, nil
		}
	}
	return val{}, fmt.Errorf("%q is not a timestamp", s)
}

// canonTime reads a time of day with nanoseconds; other text stays as it is.
func canonTime(v any) (val, error) {
	if x, ok := v.(time.Time); ok {
		return val{s: x.Format("15:04:05.000000000")}, nil
	}
	s := strings.TrimSpace(text(v))
	for _, layout := range []string{"15:04:05.999999999", "15:04:05"} {
		if x, err := time.Parse(layout, s); err == nil {
			return val{s: x.Format("15:04:05.000000000")}, nil
		}
	}
	return val{s: s}, nil
}

func boolVal(b bool) val {
	if b {
		return val{s: "true", i: 1}
	}
	return val{s: "false"}
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// normDecimal writes a decimal without a sign of +, leading zeros or an
// exponent, keeping the digits after the point as given: its scale.
func normDecimal(s string) (string, bool) {
	if s == "" {
		return "", false
	}
	if strings.ContainsAny(s, "eE") || s == "NaN" {
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return s, s == "NaN"
		}
		return r.FloatString(decimalScale(s)), true
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if !digits(intPart) || (hasPoint && !digits(frac)) || (intPart == "" && frac == "") {
		return "", false
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	out := intPart
	if hasPoint && frac != "" {
		out += "." + frac
	}
	if neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out, true
}

func decimalScale(s string) int {
	if _, frac, ok := strings.Cut(s, "."); ok {
		n := 0
		for n < len(frac) && frac[n] >= '0' && frac[n] <= '9' {
			n++
		}
		return n
	}
	return 0
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Reasons a value differs.
const (
	ReasonValue              = "value"
	ReasonNull               = "null vs value"
	ReasonNullEmpty          = "null vs empty"
	ReasonTrailingSpace      = "trailing space"
	ReasonCase               = "case"
	ReasonDecimalScale       = "decimal scale"
	ReasonTimestampPrecision = "timestamp precision"
	ReasonTolerance          = "beyond tolerance"
	// ReasonNormalization: the same text in another Unicode normalization
	// form ("café" as U+00E9 on one side, e and U+0301 on the other).
	ReasonNormalization = "unicode normalization"
)

// pair is a compared column: its type on each side and the tolerance.
type pair struct {
	src, tgt   *colType
	srcN, tgtN string
	tol        float64
	rel        float64 // relative tolerance of floats; default 1e-12 (1e-6 for single precision)
	cls        class   // the class they are compared as
}

// differ compares two canonical values; reason names why they differ.
func (p *pair) differ(a, b val) (bool, string) {
	if a.null || b.null {
		if a.null && b.null {
			return false, ""
		}
		if (a.null && b.s == "") || (b.null && a.s == "") {
			return true, ReasonNullEmpty
		}
		return true, ReasonNull
	}
	if a.s == b.s && p.tol == 0 {
		return false, ""
	}
	switch p.cls {
	case cDecimal:
		return p.decimalDiffer(a.s, b.s)
	case cFloat:
		return p.floatDiffer(a.s, b.s)
	case cInt:
		if p.tol > 0 {
			return p.floatDiffer(a.s, b.s)
		}
		return true, ReasonValue
	case cTimestamp:
		return p.timeDiffer(a.s, b.s)
	case cText:
		if a.s == b.s {
			return false, ""
		}
		if strings.TrimRight(a.s, " ") == strings.TrimRight(b.s, " ") {
			return true, ReasonTrailingSpace
		}
		if strings.EqualFold(a.s, b.s) {
			return true, ReasonCase
		}
		if norm.NFC.String(a.s) == norm.NFC.String(b.s) {
			return true, ReasonNormalization
		}
	}
	if a.s == b.s {
		return false, ""
	}
	return true, ReasonValue
}

func (p *pair) decimalDiffer(a, b string) (bool, string) {
	ra, ok1 := new(big.Rat).SetString(a)
	rb, ok2 := new(big.Rat).SetString(b)
	if !ok1 || !ok2 {
		return a != b, ReasonValue
	}
	if p.tol > 0 {
		d := new(big.Rat).Sub(ra, rb)
		f, _ := d.Abs(d).Float64()
		if f <= p.tol {
			return false, ""
		}
		return true, ReasonTolerance
	}
	if ra.Cmp(rb) != 0 {
		return true, ReasonValue
	}
	if a == b {
		return false, ""
	}
	// Equal in value, written with another scale. When both columns declare
	// a scale the schema level has judged the difference; the values agree.
	// An integer against a decimal is compared by value only, too.
	if p.src.Class != cDecimal || p.tgt.Class != cDecimal || (p.src.Scale >= 0 && p.tgt.Scale >= 0) {
		return false, ""
	}
	return true, ReasonDecimalScale
}

func (p *pair) floatDiffer(a, b string) (bool, string) {
	fa, err1 := strconv.ParseFloat(a, 64)
	fb, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil {
		return a != b, ReasonValue
	}
	// An infinity or NaN is equal only to itself: no tolerance, absolute
	// or relative, brings 5 or 1e308 near +Inf (both sides of the
	// comparison below would be infinite, and it would hold).
	if math.IsInf(fa, 0) || math.IsInf(fb, 0) || math.IsNaN(fa) || math.IsNaN(fb) {
		same := fa == fb || (math.IsNaN(fa) && math.IsNaN(fb))
		return !same, ReasonValue
	}
	d := math.Abs(fa - fb)
	if p.tol > 0 {
		if d <= p.tol {
			return false, ""
		}
		return true, ReasonTolerance
	}
	rel := 1e-12
	if p.src.Float32 || p.tgt.Float32 {
		rel = 1e-6
	}
	if p.rel > 0 {
		rel = p.rel
	}
	if d <= rel*math.Max(math.Abs(fa), math.Abs(fb)) {
		return false, ""
	}
	return true, ReasonValue
}

func (p *pair) timeDiffer(a, b string) (bool, string) {
	if a == b {
		return false, ""
	}
	ta, err1 := time.Parse(tsLayout, a)
	tb, err2 := time.Parse(tsLayout, b)
	if err1 != nil || err2 != nil {
		return true, ReasonValue
	}
	d := ta.Sub(tb)
	if d < 0 {
		d = -d
	}
	if p.tol > 0 && d.Seconds() <= p.tol {
		return false, ""
	}
	frac := min(p.src.Frac, p.tgt.Frac)
	// Truncated (MariaDB) or rounded (MySQL) to the coarser precision.
	if d < time.Duration(math.Pow10(9-frac)) {
		return true, ReasonTimestampPrecision
	}
	return true, ReasonValue
}

// display writes a canonical value for a person: timestamps at their
// column's precision, bytes in hex.
func display(t *colType, v val) string {
	if v.null {
		return "NULL"
	}
	switch t.Class {
	case cTimestamp:
		return cutFrac(v.s, t.Frac)
	case cTime:
		return cutFrac(v.s, t.Frac)
	case cBytes:
		return fmt.Sprintf("\\x%x", v.s)
	}
	return v.s
}

func cutFrac(s string, frac int) string {
	i := strings.LastIndexByte(s, '.')
	if i < 0 {
		return s
	}
	if frac <= 0 {
		return s[:i]
	}
	if i+1+frac > len(s) {
		return s
	}
	return s[:i+1+frac]
}

// compareKey orders two keys as both databases were asked to: integers by
// value, decimals by value, everything else by bytes.
func compareKey(classes []class, a, b []val) int {
	for i, c := range classes {
		if r := cmpVal(c, a[i], b[i]); r != 0 {
			return r
		}
	}
	return 0
}

// cmpVal orders two canonical values of class c; NULL first.
func cmpVal(c class, x, y val) int {
	if x.null || y.null {
		switch {
		case x.null && y.null:
			return 0
		case x.null:
			return -1
		}
		return 1
	}
	switch c {
	case cInt:
		if x.s == y.s {
			return 0
		}
		switch {
		case x.i < y.i:
			return -1
		case x.i > y.i:
			return 1
		}
		// Outside int64: compare as big integers.
		bx, _ := new(big.Int).SetString(x.s, 10)
		by, _ := new(big.Int).SetString(y.s, 10)
		if bx != nil && by != nil {
			return bx.Cmp(by)
		}
		return strings.Compare(x.s, y.s)
	case cDecimal:
		return cmpDecimal(x.s, y.s)
	case cFloat:
		fx, err1 := strconv.ParseFloat(x.s, 64)
		fy, err2 := strconv.ParseFloat(y.s, 64)
		switch {
		case err1 != nil || err2 != nil:
			return strings.Compare(x.s, y.s)
		case fx < fy:
			return -1
		case fx > fy:
			return 1
		}
		return 0
	case cBool:
		return int(x.i - y.i)
	}
	return strings.Compare(x.s, y.s) // bytewise, as COLLATE "C" and BINARY order
}

// cmpDecimal orders two canonical decimals (normDecimal's form) without
// parsing them into big numbers: by sign, by the length of the integer
// part, then digit by digit.
func cmpDecimal(a, b string) int {
	na, nb := strings.HasPrefix(a, "-"), strings.HasPrefix(b, "-")
	switch {
	case na && !nb:
		return -1
	case !na && nb:
		return 1
	case na:
		return -cmpDecimal(a[1:], b[1:])
	}
	ia, fa, _ := strings.Cut(a, ".")
	ib, fb, _ := strings.Cut(b, ".")
	if len(ia) != len(ib) {
		if len(ia) < len(ib) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(ia, ib); c != 0 {
		return c
	}
	fa, fb = strings.TrimRight(fa, "0"), strings.TrimRight(fb, "0")
	return strings.Compare(fa, fb)
}
