package evidence

import (
	"bytes"
	"encoding/base64"
)

// decodeMaybeBase64 accepts a signature as raw bytes or as base64 text.
func decodeMaybeBase64(b []byte) []byte {
	t := bytes.TrimSpace(b)
	if d, err := base64.StdEncoding.DecodeString(string(t)); err == nil && len(d) > 0 {
		return d
	}
	return b
}
