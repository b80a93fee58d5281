package step

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

func diagError(diags hcl.Diagnostics) error {
	var msgs []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		m := d.Summary
		if d.Detail != "" {
			m += ": " + d.Detail
		}
		if d.Subject != nil {
			m += fmt.Sprintf(" (%s:%d)", d.Subject.Filename, d.Subject.Start.Line)
		}
		msgs = append(msgs, m)
	}
	return errors.New(strings.Join(msgs, "; "))
}

func evalString(e hcl.Expression, ctx *hcl.EvalContext, what string) (string, error) {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return "", diagError(diags)
	}
	if v.IsNull() {
		return "", fmt.Errorf("%s at %s is null", what, exprAt(e))
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", fmt.Errorf("%s at %s must be a string: %w", what, exprAt(e), err)
	}
	return s.AsString(), nil
}

func evalStringMap(e hcl.Expression, ctx *hcl.EvalContext, what string) (map[string]string, error) {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return nil, diagError(diags)
	}
	if v.IsNull() {
		return nil, nil
	}
	m, err := convert.Convert(v, cty.Map(cty.String))
	if err != nil {
		return nil, fmt.Errorf("%s at %s must be an object of strings: %w", what, exprAt(e), err)
	}
	out := map[string]string{}
	for it := m.ElementIterator(); it.Next(); {
		k, val := it.Element()
		if !val.IsNull() {
			out[k.AsString()] = val.AsString()
		}
	}
	return out, nil
}

// goValue turns a cty value into plain Go values (string, float64, bool,
// nil, []any, map[string]any), the shape encoding/json gives, so that
// expected and actual values compare equal.
func goValue(v cty.Value) any { return plainValue(v, false) }

// plainValue is goValue, its numbers exact json.Numbers when exact.
func plainValue(v cty.Value, exact bool) any {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	t := v.Type()
	switch {
	case t == cty.String:
		return v.AsString()
	case t == cty.Number && exact:
		return json.Number(v.AsBigFloat().Text('f', -1))
	case t == cty.Number:
		f, _ := v.AsBigFloat().Float64()
		return f
	case t == cty.Bool:
		return v.True()
	case t.IsListType() || t.IsTupleType() || t.IsSetType():
		out := []any{}
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, plainValue(e, exact))
		}
		return out
	case t.IsMapType() || t.IsObjectType():
		out := map[string]any{}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = plainValue(e, exact)
		}
		return out
	}
	return v.GoString()
}

// ctyValue turns a Go value from a database driver or JSON into cty.
func ctyValue(x any) cty.Value {
	switch v := x.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case string:
		return cty.StringVal(v)
	case []byte:
		return cty.StringVal(string(v))
	case bool:
		return cty.BoolVal(v)
	case int64:
		return cty.NumberIntVal(v)
	case int32:
		return cty.NumberIntVal(int64(v))
	case int:
		return cty.NumberIntVal(int64(v))
	case float64:
		return cty.NumberFloatVal(v)
	case float32:
		return cty.NumberFloatVal(float64(v))
	case *big.Float:
		return cty.NumberVal(v)
	case decimalText:
		if n, err := cty.ParseNumberVal(string(v)); err == nil {
			return n
		}
		return cty.StringVal(string(v))
	case fmt.Stringer:
		return cty.StringVal(v.String())
	}
	return cty.StringVal(fmt.Sprint(x))
}

// lookupPath finds a dotted path ("data.accounts.0.id") in decoded JSON.
func lookupPath(doc any, path string) (any, bool) {
	cur := doc
	if path == "" || path == "." {
		return cur, true
	}
	for _, part := range strings.Split(path, ".") {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[part]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscanf(part, "%d", &i); err != nil || i < 0 || i >= len(c) || fmt.Sprint(i) != part {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// decodeExact decodes a JSON document with its numbers kept as written
// (json.Number), so that 9007199254740993 is not read as ...992: an
// account number or an amount in minor units is compared exactly.
func decodeExact(body string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid character after top-level value")
	}
	return doc, nil
}

// duplicateKey finds a key that an object of the JSON document has twice
// ({"ok": false, "ok": true}): which of the two a client reads depends
// on its parser, so no expectation on it can be trusted. It gives the
// dotted path of the second one.
func duplicateKey(body string) (string, bool) {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		seen   map[string]bool
		key    string // the key whose value comes next (objects)
		index  int    // the next element's index (arrays)
		path   string
	}
	var stack []*frame
	expectKey := func() bool { return len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].key == "" }
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		name := f.key
		if !f.object {
			name = strconv.Itoa(f.index)
		}
		if f.path == "" {
			return name
		}
		return f.path + "." + name
	}
	// after a value: the key is used up, or the index moves on
	done := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.key = ""
		} else {
			f.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, &frame{object: t == '{', seen: map[string]bool{}, path: child()})
			case '}', ']':
				stack = stack[:len(stack)-1]
				done()
			}
		case string:
			if expectKey() {
				f := stack[len(stack)-1]
				if f.seen[t] {
					f.key = t
					return child(), true
				}
				f.seen[t], f.key = true, t
				continue
			}
			done()
		default:
			done()
		}
	}
}

// exactGoValue is goValue with numbers as json.Number, exact (cty keeps
// an HCL number literal exactly).
func exactGoValue(v cty.Value) any { return plainValue(v, true) }

// jsonEqual reports whether two decoded JSON values are equal, numbers
// compared by value, exactly (1.0 is 1; 2^53+1 is not 2^53).
func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		rx, okx := new(big.Rat).SetString(string(x))
		ry, oky := new(big.Rat).SetString(string(y))
		return okx && oky && rx.Cmp(ry) == 0
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !jsonEqual(xv, yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// exprAt is where e is written (file:line).
func exprAt(e hcl.Expression) string {
	r := e.Range()
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}
