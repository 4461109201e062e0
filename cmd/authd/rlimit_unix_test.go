//go:build unix

package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

// The soft limit on open files is raised to the hard one.
func TestRaiseFileLimit(t *testing.T) {
	var orig unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Setrlimit(unix.RLIMIT_NOFILE, &orig) })
	if orig.Max < 512 {
		t.Skipf("hard limit %d too low to lower the soft one under it", orig.Max)
	}
	low := unix.Rlimit{Cur: 256, Max: orig.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	before, now, err := raiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	var got unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &got); err != nil {
		t.Fatal(err)
	}
	if before != 256 || now != orig.Max || got.Cur != orig.Max {
		t.Errorf("raiseFileLimit: %d -> %d, soft limit now %d, want 256 -> %d", before, now, got.Cur, orig.Max)
	}
}
