package performance

import (
	"bytes"
	"encoding/gob"
	"errors"
	"io"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// resultEncoder writes vegeta results as vegeta's encoder does (one
// encoding/gob stream of *vegeta.Result), byte for byte, without gob's
// reflection for every result: gob's Encode was 12 to 15 % of the
// generator's CPU at 5000 requests/s (bench/README.md). The first result,
// and any result with a body or headers (the raw results never keep them),
// goes through gob itself, which sends the type descriptors once; the
// others are encoded here with the type id gob gave *vegeta.Result in that
// first message. TestResultEncoderWritesWhatGobWrites compares the bytes.
type resultEncoder struct {
	w    io.Writer
	gob  *gob.Encoder
	out  bytes.Buffer // what gob wrote, while the type id is read from it
	id   int64        // gob's type id of vegeta.Result; 0 until known
	body []byte
	msg  []byte
	ts   []byte
}

func newResultEncoder(w io.Writer) *resultEncoder {
	e := &resultEncoder{w: w}
	e.gob = gob.NewEncoder(&e.out)
	return e
}

// Encode writes r.
func (e *resultEncoder) Encode(r *vegeta.Result) error {
	if e.id == 0 || len(r.Body) > 0 || len(r.Headers) > 0 {
		e.out.Reset()
		if err := e.gob.Encode(r); err != nil {
			return err
		}
		if e.id == 0 {
			id, err := lastMessageType(e.out.Bytes())
			if err != nil {
				return err
			}
			e.id = id
		}
		_, err := e.w.Write(e.out.Bytes())
		return err
	}
	b := gobInt(e.body[:0], e.id)
	field := -1
	next := func(i int) { b = gobUint(b, uint64(i-field)); field = i }
	str := func(i int, s string) {
		if s != "" {
			next(i)
			b = gobUint(b, uint64(len(s)))
			b = append(b, s...)
		}
	}
	num := func(i int, u uint64) {
		if u != 0 {
			next(i)
			b = gobUint(b, u)
		}
	}
	str(0, r.Attack)
	num(1, r.Seq)
	num(2, uint64(r.Code))
	if r.Timestamp != (time.Time{}) {
		// gob sends a GobEncoder's bytes unless the value is all zero
		// (reflect's IsZero: every field of the struct, as == compares).
		ts, err := r.Timestamp.AppendBinary(e.ts[:0]) // GobEncode's bytes
		if err != nil {
			return err
		}
		e.ts = ts
		next(3)
		b = gobUint(b, uint64(len(ts)))
		b = append(b, ts...)
	}
	if r.Latency != 0 {
		next(4)
		b = gobInt(b, int64(r.Latency))
	}
	num(5, r.BytesOut)
	num(6, r.BytesIn)
	str(7, r.Error)
	str(9, r.Method)
	str(10, r.URL)
	b = append(b, 0) // the end of the struct
	e.body = b
	e.msg = append(gobUint(e.msg[:0], uint64(len(b))), b...)
	_, err := e.w.Write(e.msg)
	return err
}

// lastMessageType is the type id of the last message of a gob stream: the
// value's (type definitions before it have negative ids).
func lastMessageType(stream []byte) (int64, error) {
	var id int64
	for len(stream) > 0 {
		n, rest, ok := readGobUint(stream)
		if !ok || uint64(len(rest)) < n {
			return 0, errors.New("vegeta result encoding: a truncated gob message")
		}
		msg := rest[:n]
		stream = rest[n:]
		u, _, ok := readGobUint(msg)
		if !ok {
			return 0, errors.New("vegeta result encoding: a gob message without a type id")
		}
		if u&1 == 0 {
			id = int64(u >> 1)
		} else {
			id = ^int64(u >> 1)
		}
	}
	if id <= 0 {
		return 0, errors.New("vegeta result encoding: no value message in gob's first output")
	}
	return id, nil
}

// gobUint appends u in gob's unsigned encoding: one byte below 128, else
// the negated byte count and the big-endian bytes.
func gobUint(b []byte, u uint64) []byte {
	if u < 0x80 {
		return append(b, byte(u))
	}
	var buf [8]byte
	n := 8
	for u > 0 {
		n--
		buf[n] = byte(u)
		u >>= 8
	}
	b = append(b, byte(-(8 - n)))
	return append(b, buf[n:]...)
}

// gobInt appends i in gob's signed encoding (the sign in the low bit).
func gobInt(b []byte, i int64) []byte {
	var u uint64
	if i < 0 {
		u = uint64(^i<<1) | 1
	} else {
		u = uint64(i << 1)
	}
	return gobUint(b, u)
}

func readGobUint(b []byte) (uint64, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	c := b[0]
	if c < 0x80 {
		return uint64(c), b[1:], true
	}
	n := int(-int8(c))
	if n > 8 || len(b) < 1+n {
		return 0, nil, false
	}
	var u uint64
	for _, x := range b[1 : 1+n] {
		u = u<<8 | uint64(x)
	}
	return u, b[1+n:], true
}
