package performance

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// The raw results are read by `vegeta report`: the hand-written encoding
// must be gob's, byte for byte, for every value a field can take (zero and
// not, one byte and eight, negative latencies, zones, long strings), and a
// result with a body or headers in the middle of the stream must not
// disturb it.
func TestResultEncoderWritesWhatGobWrites(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	zone := time.FixedZone("X", 5*3600+30*60)
	pick := func(vs ...uint64) uint64 { return vs[rng.IntN(len(vs))] }
	str := func() string {
		switch rng.IntN(4) {
		case 0:
			return ""
		case 1:
			return "x"
		case 2:
			return strings.Repeat("é", 100) // 200 bytes: a two-byte length
		}
		return "GET http://127.0.0.1:8080/a?b=c"
	}
	var results []vegeta.Result
	for i := 0; i < 3000; i++ {
		r := vegeta.Result{
			Attack: str(), Seq: pick(0, 1, 127, 128, 255, 256, 1<<32, math.MaxUint64, rng.Uint64()),
			Code:     uint16(pick(0, 200, 503, 127, 128, math.MaxUint16)),
			Latency:  time.Duration(int64(pick(0, 1, 63, 64, 1<<40, rng.Uint64()))) * time.Duration(1-2*rng.IntN(2)),
			BytesOut: pick(0, 5, 300, rng.Uint64()), BytesIn: pick(0, 118, 1<<20),
			Error: str(), Method: str(), URL: str(),
		}
		switch rng.IntN(5) {
		case 0: // the zero time
		case 1:
			r.Timestamp = time.Now()
		case 2:
			r.Timestamp = time.Unix(rng.Int64N(1<<40)-1<<39, rng.Int64N(1e9)).In(zone)
		case 3:
			r.Timestamp = time.Unix(0, 0).UTC()
		case 4:
			r.Timestamp = time.Time{}.In(zone)
		}
		if i == 1500 {
			r.Body, r.Headers = []byte("body"), http.Header{"A": {"b"}}
		}
		results = append(results, r)
	}
	var want, got bytes.Buffer
	genc := vegeta.NewEncoder(&want)
	ours := newResultEncoder(&got)
	for i := range results {
		if err := genc.Encode(&results[i]); err != nil {
			t.Fatal(err)
		}
		if err := ours.Encode(&results[i]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want.Bytes(), got.Bytes()) {
			t.Fatalf("result %d (%+v): the bytes differ from gob's from offset %d", i, results[i], firstDiff(want.Bytes(), got.Bytes()))
		}
	}
	dec := vegeta.NewDecoder(&got)
	for i := range results {
		var r vegeta.Result
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("decoding result %d: %v", i, err)
		}
		if !r.Equal(results[i]) {
			t.Fatalf("result %d decoded as %+v, written %+v", i, r, results[i])
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
