package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// A record too big for one backend item is stored as n items: key holds a
// header line and the first part, key#1 ... key#(n-1) hold the rest. The
// header carries n and the SHA-256 of the whole record so that mixing parts
// of two writes is detected. A record stored in one item is plain JSON, which
// never starts with the header's prefix.
const (
	chunkPrefix    = "authd-chunked/"
	chunkFormat    = chunkPrefix + "1 %d %s\n"
	chunkHeaderMax = 128 // bytes reserved for the header in the first item
	maxChunks      = 256
	chunkSeparator = "#"
)

// chunkKey names part i (1-based after the first item) of key.
func chunkKey(key string, i int) string {
	return key + chunkSeparator + strconv.Itoa(i)
}

// splitRecord cuts data into the values of the items to write, first item
// first. limit is the backend's item size; 0 means unlimited.
func splitRecord(data []byte, limit int) ([][]byte, error) {
	if limit <= 0 || len(data) <= limit {
		return [][]byte{data}, nil
	}
	size := limit - chunkHeaderMax
	if size <= 0 {
		return nil, fmt.Errorf("item size limit %d is too small to split a record", limit)
	}
	n := (len(data) + size - 1) / size
	if n > maxChunks {
		return nil, fmt.Errorf("record of %d bytes needs %d items, more than the %d allowed", len(data), n, maxChunks)
	}
	sum := sha256.Sum256(data)
	header := fmt.Sprintf(chunkFormat, n, hex.EncodeToString(sum[:]))
	parts := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		part := data[i*size : min((i+1)*size, len(data))]
		if i == 0 {
			part = append([]byte(header), part...)
		}
		parts = append(parts, part)
	}
	return parts, nil
}

// chunkHeader describes the first item of a split record.
type chunkHeader struct {
	count int    // items in all, the first included
	sum   []byte // SHA-256 of the joined record
	body  []byte // the part of the record held by the first item
}

// parseChunkHeader reports whether first starts a split record and, if so,
// its header. A malformed header is ErrCorrupt.
func parseChunkHeader(first []byte) (*chunkHeader, bool, error) {
	if !bytes.HasPrefix(first, []byte(chunkPrefix)) {
		return nil, false, nil
	}
	line, body, found := bytes.Cut(first, []byte("\n"))
	if !found {
		return nil, true, fmt.Errorf("%w: split record header has no end", ErrCorrupt)
	}
	fields := strings.Fields(strings.TrimPrefix(string(line), chunkPrefix))
	if len(fields) != 3 || fields[0] != "1" {
		return nil, true, fmt.Errorf("%w: unknown split record header %q", ErrCorrupt, line)
	}
	count, err := strconv.Atoi(fields[1])
	if err != nil || count < 1 || count > maxChunks {
		return nil, true, fmt.Errorf("%w: bad item count in split record header %q", ErrCorrupt, line)
	}
	sum, err := hex.DecodeString(fields[2])
	if err != nil || len(sum) != sha256.Size {
		return nil, true, fmt.Errorf("%w: bad checksum in split record header %q", ErrCorrupt, line)
	}
	return &chunkHeader{count: count, sum: sum, body: body}, true, nil
}

// verify checks the joined record against the header's checksum.
func (h *chunkHeader) verify(joined []byte) error {
	sum := sha256.Sum256(joined)
	if !bytes.Equal(sum[:], h.sum) {
		return fmt.Errorf("%w: the %d parts of the split record do not match its checksum (a write was interrupted?)", ErrCorrupt, h.count)
	}
	return nil
}
