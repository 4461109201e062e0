package wire

import (
	"errors"
	"strconv"
	"time"
)

// This file is the HPACK (RFC 7541) of the client: a decoder with its
// dynamic table for the server's header blocks, and an encoder that only
// writes literals and static-table references, so the server's decoder
// never needs our dynamic table.

var errHPACK = errors.New("invalid hpack header block")

// headerField is one decoded header field.
type headerField struct {
	name, value string
}

// hpackStaticTable is RFC 7541, Appendix A (index 1 is element 0).
var hpackStaticTable = [61]headerField{
	{":authority", ""},
	{":method", "GET"},
	{":method", "POST"},
	{":path", "/"},
	{":path", "/index.html"},
	{":scheme", "http"},
	{":scheme", "https"},
	{":status", "200"},
	{":status", "204"},
	{":status", "206"},
	{":status", "304"},
	{":status", "400"},
	{":status", "404"},
	{":status", "500"},
	{"accept-charset", ""},
	{"accept-encoding", "gzip, deflate"},
	{"accept-language", ""},
	{"accept-ranges", ""},
	{"accept", ""},
	{"access-control-allow-origin", ""},
	{"age", ""},
	{"allow", ""},
	{"authorization", ""},
	{"cache-control", ""},
	{"content-disposition", ""},
	{"content-encoding", ""},
	{"content-language", ""},
	{"content-length", ""},
	{"content-location", ""},
	{"content-range", ""},
	{"content-type", ""},
	{"cookie", ""},
	{"date", ""},
	{"etag", ""},
	{"expect", ""},
	{"expires", ""},
	{"from", ""},
	{"host", ""},
	{"if-match", ""},
	{"if-modified-since", ""},
	{"if-none-match", ""},
	{"if-range", ""},
	{"if-unmodified-since", ""},
	{"last-modified", ""},
	{"link", ""},
	{"location", ""},
	{"max-forwards", ""},
	{"proxy-authenticate", ""},
	{"proxy-authorization", ""},
	{"range", ""},
	{"referer", ""},
	{"refresh", ""},
	{"retry-after", ""},
	{"server", ""},
	{"set-cookie", ""},
	{"strict-transport-security", ""},
	{"transfer-encoding", ""},
	{"user-agent", ""},
	{"vary", ""},
	{"via", ""},
	{"www-authenticate", ""},
}

// defaultHeaderTableSize is the dynamic table size both ends start with;
// the client never announces another.
const defaultHeaderTableSize = 4096

// maxHeaderListSize bounds the decoded size of one header block, as
// grpc-go's default does (16 MiB), so a bad peer cannot exhaust memory.
const maxHeaderListSize = 16 << 20

// hpackDecoder decodes the header blocks of one connection, in order.
type hpackDecoder struct {
	dynamic []headerField // newest last
	size    int           // RFC 7541 size of dynamic: sum of len(name)+len(value)+32
	maxSize int           // the current limit, at most defaultHeaderTableSize
}

func newHPACKDecoder() hpackDecoder { return hpackDecoder{maxSize: defaultHeaderTableSize} }

// decode decodes a complete header block, calling fn for each field.
func (d *hpackDecoder) decode(block []byte, fn func(headerField)) error {
	listSize := 0
	sizeUpdateAllowed := true // only at the start of a block
	for len(block) > 0 {
		c := block[0]
		var hf headerField
		var err error
		switch {
		case c&0x80 != 0: // indexed field
			var idx uint64
			if idx, block, err = readHPACKInt(block, 7); err != nil {
				return err
			}
			if hf, err = d.at(idx); err != nil {
				return err
			}
		case c&0xc0 == 0x40: // literal with incremental indexing
			if hf, block, err = d.readLiteral(block, 6); err != nil {
				return err
			}
			d.add(hf)
		case c&0xe0 == 0x20: // dynamic table size update
			if !sizeUpdateAllowed {
				return errHPACK
			}
			var size uint64
			if size, block, err = readHPACKInt(block, 5); err != nil {
				return err
			}
			if size > defaultHeaderTableSize {
				return errHPACK
			}
			d.maxSize = int(size)
			d.evict()
			continue
		default: // literal without indexing (0000) or never indexed (0001)
			if hf, block, err = d.readLiteral(block, 4); err != nil {
				return err
			}
		}
		sizeUpdateAllowed = false
		listSize += len(hf.name) + len(hf.value) + 32
		if listSize > maxHeaderListSize {
			return errHPACK
		}
		fn(hf)
	}
	return nil
}

func (d *hpackDecoder) at(idx uint64) (headerField, error) {
	switch {
	case idx == 0:
		return headerField{}, errHPACK
	case idx <= uint64(len(hpackStaticTable)):
		return hpackStaticTable[idx-1], nil
	}
	idx -= uint64(len(hpackStaticTable))
	if idx > uint64(len(d.dynamic)) {
		return headerField{}, errHPACK
	}
	return d.dynamic[len(d.dynamic)-int(idx)], nil
}

func (d *hpackDecoder) add(hf headerField) {
	d.dynamic = append(d.dynamic, hf)
	d.size += len(hf.name) + len(hf.value) + 32
	d.evict()
}

func (d *hpackDecoder) evict() {
	n := 0
	for d.size > d.maxSize && n < len(d.dynamic) {
		d.size -= len(d.dynamic[n].name) + len(d.dynamic[n].value) + 32
		n++
	}
	if n > 0 {
		d.dynamic = append(d.dynamic[:0], d.dynamic[n:]...)
	}
}

// readLiteral reads a literal field whose index of name has an n-bit prefix.
func (d *hpackDecoder) readLiteral(block []byte, n uint) (headerField, []byte, error) {
	var hf headerField
	idx, block, err := readHPACKInt(block, n)
	if err != nil {
		return hf, nil, err
	}
	if idx > 0 {
		named, err := d.at(idx)
		if err != nil {
			return hf, nil, err
		}
		hf.name = named.name
	} else if hf.name, block, err = readHPACKString(block); err != nil {
		return hf, nil, err
	}
	if hf.value, block, err = readHPACKString(block); err != nil {
		return hf, nil, err
	}
	return hf, block, nil
}

// readHPACKInt reads an integer with an n-bit prefix (RFC 7541, 5.1).
func readHPACKInt(b []byte, n uint) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, errHPACK
	}
	mask := uint64(1)<<n - 1
	v := uint64(b[0]) & mask
	b = b[1:]
	if v < mask {
		return v, b, nil
	}
	for shift := uint(0); shift <= 28; shift += 7 {
		if len(b) == 0 {
			return 0, nil, errHPACK
		}
		c := b[0]
		b = b[1:]
		v += uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 1<<32 {
				return 0, nil, errHPACK // larger than anything legitimate
			}
			return v, b, nil
		}
	}
	return 0, nil, errHPACK
}

// readHPACKString reads a string literal (RFC 7541, 5.2).
func readHPACKString(b []byte) (string, []byte, error) {
	if len(b) == 0 {
		return "", nil, errHPACK
	}
	huffman := b[0]&0x80 != 0
	l, b, err := readHPACKInt(b, 7)
	if err != nil {
		return "", nil, err
	}
	if l > uint64(len(b)) {
		return "", nil, errHPACK
	}
	raw, rest := b[:l], b[l:]
	if !huffman {
		return string(raw), rest, nil
	}
	out, err := huffmanDecode(make([]byte, 0, len(raw)*8/5), raw)
	if err != nil {
		return "", nil, err
	}
	return string(out), rest, nil
}

// requestHeaders are the fields every request sends, around its :path
// (pseudo-header fields must come first), as static-table references and
// plain literals.
var (
	requestHeadersBeforePath = []byte{
		0x83, // :method POST (static 3)
		0x86, // :scheme http (static 6)
	}
	requestHeadersAfterPath = []byte{
		0x01, 9, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't', // :authority (static name 1)
		0x0f, 0x10, 16, 'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/', 'g', 'r', 'p', 'c', // content-type (static name 31)
		0x00, 2, 't', 'e', 8, 't', 'r', 'a', 'i', 'l', 'e', 'r', 's', // te: trailers
	}
)

// appendRequestHeaders appends the header block of a call to path, with a
// grpc-timeout unless timeout is empty.
func appendRequestHeaders(b []byte, path, timeout string) []byte {
	b = append(b, requestHeadersBeforePath...)
	b = appendHPACKInt(b, 0x00, 4, 4) // :path, literal without indexing, static name 4
	b = appendHPACKString(b, path)
	b = append(b, requestHeadersAfterPath...)
	if timeout != "" {
		b = append(b, 0x00)
		b = appendHPACKString(b, "grpc-timeout")
		b = appendHPACKString(b, timeout)
	}
	return b
}

// appendHPACKInt appends v with an n-bit prefix, the byte's other bits first.
func appendHPACKInt(b []byte, first byte, n uint, v uint64) []byte {
	mask := uint64(1)<<n - 1
	if v < mask {
		return append(b, first|byte(v))
	}
	b = append(b, first|byte(mask))
	v -= mask
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// appendHPACKString appends s as a plain (not Huffman-coded) string literal.
func appendHPACKString(b []byte, s string) []byte {
	b = appendHPACKInt(b, 0x00, 7, uint64(len(s)))
	return append(b, s...)
}

// encodeTimeout formats a grpc-timeout value: at most 8 digits and a unit,
// rounded up, as grpc-go does.
func encodeTimeout(d time.Duration) string {
	const maxValue = 1e8 - 1
	if d <= 0 {
		return "0n"
	}
	units := [...]struct {
		size time.Duration
		unit string
	}{{time.Nanosecond, "n"}, {time.Microsecond, "u"}, {time.Millisecond, "m"}, {time.Second, "S"}, {time.Minute, "M"}, {time.Hour, "H"}}
	for _, u := range units {
		v := d / u.size
		if d%u.size != 0 {
			v++
		}
		if v <= maxValue {
			return strconv.FormatInt(int64(v), 10) + u.unit
		}
	}
	return strconv.FormatInt(maxValue, 10) + "H"
}
