//go:build !unix

package store

import "testing"

func fifo(t *testing.T, _ string) string {
	t.Skip("no FIFOs on this platform")
	return ""
}
