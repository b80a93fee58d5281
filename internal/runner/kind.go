package runner

import (
	"github.com/hashicorp/hcl/v2"

	"github.com/cloudtest/cloudtest/internal/config"
)

// Decoder decodes the body of one suite block, after the loader has decoded
// the attributes every suite shares, into a suite that can run. It must
// report every attribute and block it does not know.
type Decoder func(common *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (Suite, hcl.Diagnostics)

// NewKind is the loader's entry for a suite kind whose decoder returns a
// runnable Suite: the compiler, not the plan, checks that every suite of
// the kind can run. Each suites/<kind> package makes its Kind with it,
// and with the Schema of the block's body that decode reads (what the
// docs must describe: config.Schema).
func NewKind(typ string, decode Decoder, schema func() *config.Schema) config.SuiteKind {
	return config.SuiteKind{Type: typ, Schema: schema, Decode: func(common *config.SuiteCommon, body hcl.Body, dc *config.DecodeContext) (config.Suite, hcl.Diagnostics) {
		s, diags := decode(common, body, dc)
		if s == nil {
			return nil, diags // not a nil Suite inside a non-nil config.Suite
		}
		return s, diags
	}}
}
