//go:build unix

package store

import (
	"path/filepath"
	"syscall"
	"testing"
)

func fifo(t *testing.T, dir string) string {
	path := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	return path
}
