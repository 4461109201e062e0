package store

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSplitRecordJoinsBack(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		size      int
		limit     int
		wantParts int
	}{
		{"no limit", 100_000, 0, 1},
		{"fits", 1000, 1000, 1},
		{"one byte over", 1001, 1000, 2},
		{"exact multiple", 3 * (1000 - chunkHeaderMax), 1000, 3},
		{"keyctl, 100 KB", 100_000, keyctlItemLimit, 4},
		{"wincred, 100 KB", 100_000, wincredItemLimit, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16+1)[:tt.size]
			data[0] = '{'
			parts, err := splitRecord(data, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != tt.wantParts {
				t.Fatalf("got %d parts, want %d", len(parts), tt.wantParts)
			}
			for i, p := range parts {
				if tt.limit > 0 && len(p) > tt.limit {
					t.Errorf("part %d holds %d bytes, over the limit %d", i, len(p), tt.limit)
				}
			}
			header, split, err := parseChunkHeader(parts[0])
			if err != nil {
				t.Fatal(err)
			}
			if !split {
				if len(parts) != 1 || !bytes.Equal(parts[0], data) {
					t.Fatal("an unsplit record must be stored as is")
				}
				return
			}
			if header.count != len(parts) {
				t.Fatalf("header says %d parts, there are %d", header.count, len(parts))
			}
			joined := append([]byte(nil), header.body...)
			for _, p := range parts[1:] {
				joined = append(joined, p...)
			}
			if !bytes.Equal(joined, data) {
				t.Fatal("joined parts differ from the record")
			}
			if err := header.verify(joined); err != nil {
				t.Fatal(err)
			}
			joined[len(joined)-1] ^= 1
			if err := header.verify(joined); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("verify of a changed record = %v, want ErrCorrupt", err)
			}
		})
	}
}

func TestSplitRecordTooBig(t *testing.T) {
	t.Parallel()
	if _, err := splitRecord(make([]byte, 1<<20), 1000); err == nil || !strings.Contains(err.Error(), "more than the 256 allowed") {
		t.Fatalf("splitting 1 MiB into 1000-byte items: err = %v, want too many items", err)
	}
}

func TestParseChunkHeader(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name      string
		first     string
		wantSplit bool
		wantErr   bool
	}{
		{"plain JSON", `{"version":1}`, false, false},
		{"valid header", "authd-chunked/1 3 " + sum + "\n{\"ver", true, false},
		{"no newline", "authd-chunked/1 3 " + sum, true, true},
		{"unknown format", "authd-chunked/2 3 " + sum + "\n", true, true},
		{"zero count", "authd-chunked/1 0 " + sum + "\n", true, true},
		{"huge count", "authd-chunked/1 100000 " + sum + "\n", true, true},
		{"bad count", "authd-chunked/1 x " + sum + "\n", true, true},
		{"short checksum", "authd-chunked/1 3 abcd\n", true, true},
		{"missing field", "authd-chunked/1 3\n", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, split, err := parseChunkHeader([]byte(tt.first))
			if split != tt.wantSplit || (err != nil) != tt.wantErr {
				t.Fatalf("parseChunkHeader(%q) = split %v, err %v; want split %v, error %v", tt.first, split, err, tt.wantSplit, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
		})
	}
}
