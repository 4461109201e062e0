//go:build linux

package main

import (
	"math"
	"testing"
)

func TestQuantile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sorted []float64
		q      float64
		want   float64
	}{
		{"empty", nil, 0.5, 0},
		{"one", []float64{7}, 0.99, 7},
		{"odd median", []float64{1, 2, 3}, 0.5, 2},
		{"even median interpolates", []float64{1, 2, 3, 4}, 0.5, 2.5},
		{"p25", []float64{10, 20, 30, 40, 50}, 0.25, 20},
		{"p99 between the last two", []float64{0, 100}, 0.99, 99},
		{"min", []float64{3, 4, 5}, 0, 3},
		{"max", []float64{3, 4, 5}, 1, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := quantile(tt.sorted, tt.q); math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("quantile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func TestSpreads(t *testing.T) {
	t.Parallel()
	iq := interquartile([]float64{5, 1, 4, 2, 3})
	if iq.Median != 3 || iq.Lo != 2 || iq.Hi != 4 {
		t.Errorf("interquartile = %+v, want median 3, p25 2, p75 4", iq)
	}
	r := overRepeats([]float64{9, 1, 5})
	if r.Median != 5 || r.Lo != 1 || r.Hi != 9 {
		t.Errorf("overRepeats = %+v, want median 5, min 1, max 9", r)
	}
}

func TestParseHyperfine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		want    []float64 // medians
		wantErr bool
	}{
		{"two commands", `{"results":[{"command":"a","median":0.002,"times":[0.001,0.002,0.003]},{"command":"b","median":0.5,"times":[0.5]}]}`, []float64{0.002, 0.5}, false},
		{"no results", `{"results":[]}`, nil, true},
		{"no times", `{"results":[{"command":"a","median":1}]}`, nil, true},
		{"not json", `hyperfine: error`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseHyperfine([]byte(tt.json))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d results, want %d", len(got), len(tt.want))
			}
			for i, r := range got {
				if r.Median != tt.want[i] {
					t.Errorf("result %d median = %v, want %v", i, r.Median, tt.want[i])
				}
			}
		})
	}
}

func TestReplaceBlock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, old, want string
	}{
		{"fresh file", "", "HEAD\n" + blockBegin + "\nNEW\n" + blockEnd + "\n"},
		{"keeps what surrounds the block", "intro\n" + blockBegin + "\nOLD\n" + blockEnd + "\nanalysis\n",
			"intro\n" + blockBegin + "\nNEW\n" + blockEnd + "\nanalysis\n"},
		{"no markers: block appended", "notes\n", "notes\n\n" + blockBegin + "\nNEW\n" + blockEnd + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := replaceBlock(tt.old, "HEAD\n", "NEW\n"); got != tt.want {
				t.Errorf("replaceBlock:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
