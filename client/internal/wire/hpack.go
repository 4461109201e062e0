package wire

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/net/http2/hpack"
)

// This file is the HPACK (RFC 7541) of the client, on golang.org/x/net's
// package hpack: a decoder that keeps the dynamic table of the server's
// header blocks within bounds, and an encoder that writes only literals and
// static-table references, so a request's block never depends on an
// earlier one reaching the server.

var errHPACK = errors.New("invalid hpack header block")

// defaultHeaderTableSize is the dynamic table size both ends start with;
// the client never announces another, so a server's table size update
// above it is an error.
const defaultHeaderTableSize = 4096

// maxHeaderListSize bounds the decoded size of one header block, as
// grpc-go's default does (16 MiB): references to a large table entry must
// not multiply a small block into gigabytes of fields.
const maxHeaderListSize = 16 << 20

// maxHeaderStringLen bounds a decoded name or value: no string is longer
// than the largest header block the client accepts.
const maxHeaderStringLen = maxHeaderBlockSize

// headerDecoder decodes the header blocks of one connection, in order.
type headerDecoder struct {
	dec      *hpack.Decoder
	fn       func(name, value string) // of the block being decoded
	listSize int                      // of the block being decoded, RFC 7541 sizes
}

func newHeaderDecoder() *headerDecoder {
	d := new(headerDecoder)
	d.dec = hpack.NewDecoder(defaultHeaderTableSize, d.emit)
	d.dec.SetMaxStringLength(maxHeaderStringLen)
	return d
}

// decode decodes a complete header block, calling fn for each field.
func (d *headerDecoder) decode(block []byte, fn func(name, value string)) error {
	d.fn, d.listSize = fn, 0
	d.dec.SetEmitEnabled(true)
	_, err := d.dec.Write(block)
	if cerr := d.dec.Close(); err == nil {
		err = cerr // a block that ends inside a field
	}
	d.fn = nil
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", errHPACK, err)
	case d.listSize > maxHeaderListSize:
		return fmt.Errorf("%w: header list larger than %d bytes", errHPACK, maxHeaderListSize)
	}
	return nil
}

func (d *headerDecoder) emit(hf hpack.HeaderField) {
	d.listSize += int(hf.Size())
	if d.listSize > maxHeaderListSize {
		// The rest of the block is still decoded, without its values, to
		// keep the dynamic table in step; decode then fails.
		d.dec.SetEmitEnabled(false)
		return
	}
	d.fn(hf.Name, hf.Value)
}

// headerEncoder encodes the request header blocks of one connection.
type headerEncoder struct {
	enc *hpack.Encoder
	w   appendWriter
}

func newHeaderEncoder() *headerEncoder {
	e := new(headerEncoder)
	e.enc = hpack.NewEncoder(&e.w)
	// A dynamic table of size 0 (announced in the first block) makes the
	// encoder write only literals and static-table references.
	e.enc.SetMaxDynamicTableSizeLimit(0)
	return e
}

// appendRequest appends the header block of a call to path, with a
// grpc-timeout unless timeout is empty.
func (e *headerEncoder) appendRequest(b []byte, path, timeout string) []byte {
	fields := [...]hpack.HeaderField{
		// Pseudo-header fields come first.
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: path},
		{Name: ":authority", Value: "localhost"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
		{Name: "grpc-timeout", Value: timeout},
	}
	n := len(fields)
	if timeout == "" {
		n--
	}
	e.w.b = b
	for _, hf := range fields[:n] {
		_ = e.enc.WriteField(hf) // appendWriter does not fail
	}
	b, e.w.b = e.w.b, nil
	return b
}

// appendWriter is an io.Writer that appends to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
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
