//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
)

// quantile returns the q-quantile (0..1) of sorted by linear interpolation
// between the closest ranks; 0 for an empty slice.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	if lo == hi {
		return sorted[lo]
	}
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// spread is a figure's median and the range around it: p25–p75 of many
// samples, or min–max of a few repeats.
type spread struct {
	Median, Lo, Hi float64
}

// interquartile summarises many samples as median and p25–p75.
func interquartile(xs []float64) spread {
	s := slices.Clone(xs)
	slices.Sort(s)
	return spread{Median: quantile(s, 0.5), Lo: quantile(s, 0.25), Hi: quantile(s, 0.75)}
}

// overRepeats summarises a few repetitions of one measurement as median and min–max.
func overRepeats(xs []float64) spread {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return spread{}
	}
	return spread{Median: quantile(s, 0.5), Lo: s[0], Hi: s[len(s)-1]}
}

// durations turns latencies into sorted float64 seconds.
func durations(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	slices.Sort(out)
	return out
}

// hyperfineResult is one command of hyperfine's --export-json.
type hyperfineResult struct {
	Command string    `json:"command"`
	Median  float64   `json:"median"`
	Mean    float64   `json:"mean"`
	Stddev  float64   `json:"stddev"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	User    float64   `json:"user"`   // mean user CPU seconds per run
	System  float64   `json:"system"` // mean system CPU seconds per run
	Times   []float64 `json:"times"`
}

// parseHyperfine reads hyperfine's --export-json output: seconds per run
// for each command, in the order they were given.
func parseHyperfine(data []byte) ([]hyperfineResult, error) {
	var doc struct {
		Results []hyperfineResult `json:"results"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parse hyperfine json: %w", err)
	}
	if len(doc.Results) == 0 {
		return nil, fmt.Errorf("parse hyperfine json: no results")
	}
	for _, r := range doc.Results {
		if len(r.Times) == 0 {
			return nil, fmt.Errorf("parse hyperfine json: %q has no times", r.Command)
		}
	}
	return doc.Results, nil
}

// A unit scales a value for display: value/scale, then the suffix.
type unit struct {
	scale  float64
	suffix string
}

// timeUnit picks µs, ms or s for a time in seconds.
func timeUnit(s float64) unit {
	switch a := math.Abs(s); {
	case a < 1e-3:
		return unit{1e-6, " µs"}
	case a < 1:
		return unit{1e-3, " ms"}
	}
	return unit{1, " s"}
}

func rateUnit(r float64) unit {
	if r >= 1000 {
		return unit{1000, "k/s"}
	}
	return unit{1, "/s"}
}

func mibUnit(float64) unit { return unit{1 << 20, " MiB"} }

// num prints three significant figures without an exponent.
func num(x float64) string {
	switch a := math.Abs(x); {
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.2f", x)
}

func formatSeconds(s float64) string { u := timeUnit(s); return num(s/u.scale) + u.suffix }

func formatRate(r float64) string { u := rateUnit(r); return num(r/u.scale) + u.suffix }

func formatMiB(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }

// format prints the spread in the unit of its median: "2.83 ms [2.80–2.90]".
func (s spread) format(unitOf func(float64) unit) string {
	u := unitOf(s.Median)
	return fmt.Sprintf("%s%s [%s–%s]", num(s.Median/u.scale), u.suffix, num(s.Lo/u.scale), num(s.Hi/u.scale))
}
