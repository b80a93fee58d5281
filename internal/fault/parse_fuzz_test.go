package fault

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// FuzzObjectName holds the names cloudtest gives Chaos Mesh objects and
// labels to Kubernetes' own rules, whatever a fault, a suite or a run is
// called: the name of every object is a DNS-1123 label, every label value
// valid, and the same input always gives the same name.
func FuzzObjectName(f *testing.F) {
	for _, s := range []string{"slow db", "Kill The Bank", "---", "", "ünïcödé", "\u212a", "a" + string(make([]byte, 70)),
		"fault-with-a-very-long-name-that-goes-past-sixty-three-characters-of-kubernetes", "x_y.z", "9lives"} {
		f.Add(s, "run-1", "suite")
	}
	f.Fuzz(func(t *testing.T, name, run, suite string) {
		if errs := validation.IsDNS1123Label(objectName(name)); len(errs) > 0 {
			t.Fatalf("objectName(%q) = %q: %v", name, objectName(name), errs)
		}
		e := &kubeEngine{run: run, suite: suite}
		obj := e.kubeObjectName(&Spec{Name: name})
		if errs := validation.IsDNS1123Label(obj); len(errs) > 0 {
			t.Fatalf("kubeObjectName(%q) = %q: %v", name, obj, errs)
		}
		if again := e.kubeObjectName(&Spec{Name: name}); again != obj {
			t.Fatalf("kubeObjectName(%q) = %q, then %q", name, obj, again)
		}
		for _, s := range []string{name, run, suite} {
			if errs := validation.IsValidLabelValue(labelValue(s)); len(errs) > 0 {
				t.Fatalf("labelValue(%q) = %q: %v", s, labelValue(s), errs)
			}
		}
	})
}

// FuzzRateKBps holds rateKBps to what tc's units say: N of a unit is
// N × (bytes per second of the unit) / 1000 KB/s, at least 1 (toxiproxy's
// smallest) and, for a rate too large to count, the largest it can hold,
// never a small or negative number.
func FuzzRateKBps(f *testing.F) {
	units := []struct {
		suffix string
		bytes  float64
	}{
		{"tbps", 1e12}, {"gbps", 1e9}, {"mbps", 1e6}, {"kbps", 1e3}, {"bps", 1},
		{"tbit", 1e12 / 8}, {"gbit", 1e9 / 8}, {"mbit", 1e6 / 8}, {"kbit", 1e3 / 8}, {"bit", 1.0 / 8},
	}
	for i := range units {
		f.Add(uint64(8), uint8(i))
	}
	f.Add(uint64(math.MaxUint64), uint8(0))
	f.Add(uint64(0), uint8(4))
	f.Fuzz(func(t *testing.T, n uint64, unit uint8) {
		u := units[int(unit)%len(units)]
		rate := fmt.Sprintf("%d%s", n, u.suffix)
		got, err := rateKBps(rate)
		if err != nil {
			t.Fatalf("rateKBps(%q): %v", rate, err)
		}
		want := float64(n) * u.bytes / 1000
		switch {
		case want >= math.MaxInt64:
			if got != math.MaxInt64 {
				t.Fatalf("rateKBps(%q) = %d, want the largest rate %d", rate, got, int64(math.MaxInt64))
			}
		case want < 1:
			if got != 1 {
				t.Fatalf("rateKBps(%q) = %d, want 1", rate, got)
			}
		case got != int64(want):
			t.Fatalf("rateKBps(%q) = %d, want %d", rate, got, int64(want))
		}
	})
}

// FuzzMemorySize holds a stress fault's size to a number of bytes that
// can be held: never negative, and never more than the machine has for
// a percentage of it.
func FuzzMemorySize(f *testing.F) {
	for _, s := range []string{"", "256MB", "1GB", "10%", "100%", "0%", "-5%", "101%", "-1MB", "9223372036854775807%", "1e3MB", "5 MB", "%"} {
		f.Add(s)
	}
	total := memInfo("MemTotal:")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := memorySize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("memorySize(%q) = %d, negative", s, n)
		}
		if strings.HasSuffix(s, "%") && n > total {
			t.Fatalf("memorySize(%q) = %d, more than the machine's %d", s, n, total)
		}
	})
}
