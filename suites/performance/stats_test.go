package performance

import (
	"math"
	"testing"
)

func TestMannWhitneyAgainstKnownValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		x, y []float64
		want float64
	}{
		// Clearly larger: every x above every y (n1=n2=8); R's
		// wilcox.test(x, y, alternative="greater", exact=FALSE, correct=TRUE) gives 0.0004713.
		{"every value larger", []float64{9, 10, 11, 12, 13, 14, 15, 16}, []float64{1, 2, 3, 4, 5, 6, 7, 8}, 0.0004713},
		// Interleaved: U = 10 against a mean of 12.5, z = -0.627, p = 0.7346.
		{"interleaved", []float64{1, 3, 5, 7, 9}, []float64{2, 4, 6, 8, 10}, 0.7346},
		// Ties everywhere: identical samples.
		{"identical", []float64{5, 5, 5, 5}, []float64{5, 5, 5, 5}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mannWhitneyGreater(tt.x, tt.y)
			if math.Abs(got-tt.want) > 0.002 && !(tt.want == 1 && got >= 0.5) {
				t.Fatalf("p = %.5f, want %.5f", got, tt.want)
			}
		})
	}
}
