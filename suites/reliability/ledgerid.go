package reliability

import (
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// canonicalID is the text form of an id captured by the ledger's write
// step, by which duplicates are found. A string is itself; a number is its
// exact decimal form (7, 7.0 and 7e0 are all "7", and a 20-digit id keeps
// every digit), so that a target answering {"id":7} is checked like one
// answering {"id":"7"}, and the two are the same id: an identifier's JSON
// type is not part of its identity. A bool is "true" or "false"; anything
// else (an object, a list) its JSON. A null or unknown value is no id.
func canonicalID(v cty.Value) (string, bool) {
	if v.Type() == cty.NilType || v.IsNull() || !v.IsWhollyKnown() {
		return "", false
	}
	v, _ = v.Unmark()
	switch v.Type() {
	case cty.String:
		return v.AsString(), true
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), true
	case cty.Bool:
		if v.True() {
			return "true", true
		}
		return "false", true
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return "", false
	}
	return string(b), true
}
