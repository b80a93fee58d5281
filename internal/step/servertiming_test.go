package step

import (
	"reflect"
	"testing"
)

func TestParseServerTiming(t *testing.T) {
	got := parseServerTiming([]string{`db;dur=53.2, app;desc="render";dur=47`, `cache;desc=hit`, `edge;dur="1.5"`})
	want := map[string]float64{"db": 53.2, "app": 47, "edge": 1.5}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if parseServerTiming(nil) != nil {
		t.Fatal("no header gives a breakdown")
	}
}
