package migration

import (
	"math/big"
	"testing"
	"time"
)

func TestCanonicalValuesAgreeAcrossDrivers(t *testing.T) {
	dec := &colType{Class: cDecimal, Scale: 2}
	ts := &colType{Class: cTimestamp, Frac: 6}
	for _, c := range []struct {
		name string
		t    *colType
		in   any
		want string
	}{
		{"PostgreSQL numeric as text", dec, "9384.83", "9384.83"},
		{"MariaDB decimal as bytes", dec, []byte("9384.83"), "9384.83"},
		{"a leading plus and zeros", dec, "+009384.830", "9384.830"},
		{"minus zero is zero", dec, "-0.00", "0.00"},
		{"an exponent", dec, "1.5e2", "150.0"},
		{"MySQL tinyint(1) as bytes", &colType{Class: cBool}, []byte("1"), "true"},
		{"PostgreSQL boolean", &colType{Class: cBool}, false, "false"},
		{"a time in another zone is UTC", ts, time.Date(2026, 3, 1, 18, 0, 0, 123456000, time.FixedZone("CST", 8*3600)), "2026-03-01 10:00:00.123456000"},
		{"a timestamp as text", ts, "2026-03-01 10:00:00.5", "2026-03-01 10:00:00.500000000"},
		{"a date from a time", &colType{Class: cDate}, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "2026-03-01"},
		{"char(n) without its padding", &colType{Class: cText, Padded: true}, "bob   ", "bob"},
		{"varchar keeps its spaces", &colType{Class: cText}, "bob ", "bob "},
		{"a float32", &colType{Class: cFloat, Float32: true}, float32(0.1), "0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, err := canon(c.t, c.in)
			if err != nil || v.s != c.want {
				t.Fatalf("canon(%v) = %q, %v; want %q", c.in, v.s, err, c.want)
			}
		})
	}
	if v, _ := canon(&colType{Class: cText}, nil); !v.null {
		t.Error("NULL must stay NULL")
	}
}

func TestDecimalsOrderByValue(t *testing.T) {
	vals := []string{"-100.5", "-100", "-2.25", "-0.5", "0", "0.05", "0.5", "1", "1.50", "2", "10", "10.01", "99.999", "100"}
	for i, a := range vals {
		for j, b := range vals {
			ra, _ := new(big.Rat).SetString(a)
			rb, _ := new(big.Rat).SetString(b)
			if got, want := cmpDecimal(a, b), ra.Cmp(rb); got != want {
				t.Errorf("cmpDecimal(%s, %s) = %d, want %d (%d, %d)", a, b, got, want, i, j)
			}
		}
	}
}

func TestDecimalSumsAreExact(t *testing.T) {
	acc := newAggAcc(&colType{Class: cDecimal, Scale: 2})
	for i := 0; i < 100000; i++ {
		acc.add(val{s: "0.10"})
		acc.add(val{s: "-0.05"})
	}
	acc.add(val{s: "12345678901234567890.123"}) // too long for the fast path
	if got := acc.result().sum.s; got != "12345678901234572890.123" {
		t.Errorf("sum %s", got)
	}
}
