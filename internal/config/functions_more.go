package config

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// The functions of Terraform's language that suites reach for and that
// neither go-cty's stdlib nor go-cty-funcs provide. They are written here
// from their documented behaviour (Terraform's own code is BUSL and not
// used).

// boolsFunc is alltrue (all) or anytrue (!all): a collection of booleans
// (or "true"/"false" strings, as Terraform converts them); null counts as
// false; an empty collection is true for alltrue and false for anytrue.
func boolsFunc(all bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool), AllowUnknown: true, AllowNull: false}},
		Type:   function.StaticReturnType(cty.Bool),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			l := args[0]
			if !l.IsWhollyKnown() {
				return cty.UnknownVal(cty.Bool), nil
			}
			for it := l.ElementIterator(); it.Next(); {
				_, v := it.Element()
				t := !v.IsNull() && v.True()
				if all && !t {
					return cty.False, nil
				}
				if !all && t {
					return cty.True, nil
				}
			}
			return cty.BoolVal(all), nil
		},
	})
}

var (
	allTrueFunc = boolsFunc(true)
	anyTrueFunc = boolsFunc(false)
)

// stringTestFunc is a two-string predicate: strcontains, startswith, endswith.
func stringTestFunc(second string, test func(s, t string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "string", Type: cty.String}, {Name: second, Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(test(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

var (
	strContainsFunc = stringTestFunc("substr", strings.Contains)
	startsWithFunc  = stringTestFunc("prefix", strings.HasPrefix)
	endsWithFunc    = stringTestFunc("suffix", strings.HasSuffix)
)

// sumFunc adds up a list or set of numbers (or numeric strings). An empty
// list is an error, as in Terraform: a sum over nothing usually means the
// path that gave the list is wrong.
var sumFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Number)}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		l := args[0]
		if l.LengthInt() == 0 {
			return cty.NilVal, fmt.Errorf("cannot sum an empty list")
		}
		total := new(big.Float)
		for i, it := 0, l.ElementIterator(); it.Next(); i++ {
			_, v := it.Element()
			if v.IsNull() {
				return cty.NilVal, function.NewArgErrorf(0, "element %d is null; every element must be a number", i)
			}
			total.Add(total, v.AsBigFloat())
		}
		return cty.NumberVal(total), nil
	},
})

// oneFunc returns the only element of a list, set or tuple, null when it is
// empty, and an error when it has more than one.
var oneFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type: func(args []cty.Value) (cty.Type, error) {
		t := args[0].Type()
		switch {
		case t == cty.DynamicPseudoType:
			return cty.DynamicPseudoType, nil
		case t.IsListType() || t.IsSetType():
			return t.ElementType(), nil
		case t.IsTupleType():
			switch n := len(t.TupleElementTypes()); n {
			case 0:
				return cty.DynamicPseudoType, nil
			case 1:
				return t.TupleElementTypes()[0], nil
			default:
				return cty.NilType, function.NewArgErrorf(0, "must be a list, set or tuple of at most one element; it has %d", n)
			}
		}
		return cty.NilType, function.NewArgErrorf(0, "must be a list, set or tuple, not %s", t.FriendlyName())
	},
	Impl: func(args []cty.Value, rt cty.Type) (cty.Value, error) {
		l := args[0]
		if l.IsNull() {
			return cty.NilVal, function.NewArgErrorf(0, "must not be null")
		}
		switch n := l.LengthInt(); n {
		case 0:
			return cty.NullVal(rt), nil
		case 1:
			it := l.ElementIterator()
			it.Next()
			_, v := it.Element()
			return v, nil
		default:
			return cty.NilVal, function.NewArgErrorf(0, "must have at most one element; it has %d", n)
		}
	},
})

// timeCmpFunc compares two RFC 3339 timestamps: -1 when the first is
// earlier, 0 when they are the same instant, 1 when it is later.
var timeCmpFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "timestamp_a", Type: cty.String}, {Name: "timestamp_b", Type: cty.String}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var ts [2]time.Time
		for i := range ts {
			t, err := time.Parse(time.RFC3339, args[i].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(i, "%q is not an RFC 3339 timestamp such as \"2026-01-31T09:00:00Z\"", args[i].AsString())
			}
			ts[i] = t
		}
		return cty.NumberIntVal(int64(ts[0].Compare(ts[1]))), nil
	},
})

// lookupPathFunc reads a path such as "accounts[0].balance.amount" (or
// "accounts.0.balance.amount", the form of expect.json) in an object, map,
// list or tuple, and gives the default when any part of the path is
// missing or null. It never fails on a missing part, unlike
// obj.accounts[0].balance, so it serves for optional fields.
var lookupPathFunc = function.New(&function.Spec{
	Params: []function.Parameter{
		{Name: "value", Type: cty.DynamicPseudoType, AllowNull: true},
		{Name: "path", Type: cty.String},
		{Name: "default", Type: cty.DynamicPseudoType, AllowNull: true},
	},
	Type: func(args []cty.Value) (cty.Type, error) {
		if !args[0].IsWhollyKnown() || !args[1].IsKnown() {
			return cty.DynamicPseudoType, nil
		}
		parts, err := splitPath(args[1].AsString())
		if err != nil {
			return cty.NilType, function.NewArgError(1, err)
		}
		if v, ok := walkPath(args[0], parts); ok {
			return v.Type(), nil
		}
		return args[2].Type(), nil
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		parts, err := splitPath(args[1].AsString())
		if err != nil {
			return cty.NilVal, function.NewArgError(1, err)
		}
		if v, ok := walkPath(args[0], parts); ok {
			return v, nil
		}
		return args[2], nil
	},
})

// splitPath splits "a.b[0].c" (or "a.b.0.c") into its parts; "" and "."
// are the value itself.
func splitPath(p string) ([]string, error) {
	if p == "" || p == "." {
		return nil, nil
	}
	bad := func(why string) error {
		return fmt.Errorf("path %q %s; write a path as \"accounts[0].balance\" or \"accounts.0.balance\"", p, why)
	}
	var parts []string
	for _, seg := range strings.Split(p, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if name == "" && rest == "" {
			return nil, bad("has an empty part")
		}
		if name != "" {
			parts = append(parts, name)
		}
		if rest == "" && !strings.Contains(seg, "[") {
			continue
		}
		for {
			idx, after, ok := strings.Cut(rest, "]")
			if _, err := strconv.Atoi(idx); !ok || err != nil {
				return nil, bad(fmt.Sprintf("has %q, which is not an index such as [0]", "["+rest))
			}
			parts = append(parts, idx)
			if after == "" {
				break
			}
			if after[0] != '[' {
				return nil, bad(fmt.Sprintf("has %q after an index", after))
			}
			rest = after[1:]
		}
	}
	return parts, nil
}

func walkPath(v cty.Value, parts []string) (cty.Value, bool) {
	for _, part := range parts {
		if v.IsNull() || !v.IsKnown() {
			return cty.NilVal, false
		}
		t := v.Type()
		switch {
		case t.IsObjectType():
			if !t.HasAttribute(part) {
				return cty.NilVal, false
			}
			v = v.GetAttr(part)
		case t.IsMapType():
			k := cty.StringVal(part)
			if !v.HasIndex(k).True() {
				return cty.NilVal, false
			}
			v = v.Index(k)
		case t.IsListType() || t.IsTupleType():
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= v.LengthInt() {
				return cty.NilVal, false
			}
			v = v.Index(cty.NumberIntVal(int64(i)))
		default:
			return cty.NilVal, false
		}
	}
	if v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}
