package wire

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// TestHPACKDecoderMatchesXNetEncoder decodes what grpc-go's encoder (x/net
// hpack) writes: dynamic table entries, evictions, table size updates,
// Huffman strings and never-indexed fields, over a run of header blocks
// that share the decoder's table.
func TestHPACKDecoderMatchesXNetEncoder(t *testing.T) {
	t.Parallel()
	type headerField struct{ name, value string }
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	dec := newHeaderDecoder()
	rng := rand.New(rand.NewPCG(3, 4))
	for block := range 300 {
		switch block {
		case 100:
			enc.SetMaxDynamicTableSize(0)
		case 110:
			enc.SetMaxDynamicTableSize(1024)
		}
		var want []headerField
		for i := range 1 + rng.IntN(8) {
			hf := headerField{name: []string{":status", "content-type", "grpc-status", "grpc-message", "x-custom", "grpc-status-details-bin"}[rng.IntN(6)]}
			hf.value = strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(300))
			if i == 0 && rng.IntN(2) == 0 {
				hf = headerField{":status", "200"}
			}
			want = append(want, hf)
			if err := enc.WriteField(hpack.HeaderField{Name: hf.name, Value: hf.value, Sensitive: rng.IntN(10) == 0}); err != nil {
				t.Fatal(err)
			}
		}
		var got []headerField
		if err := dec.decode(buf.Bytes(), func(name, value string) { got = append(got, headerField{name, value}) }); err != nil {
			t.Fatalf("block %d: %v", block, err)
		}
		buf.Reset()
		if len(got) != len(want) {
			t.Fatalf("block %d: got %d fields, want %d", block, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("block %d field %d: got %q, want %q", block, i, got[i], want[i])
			}
		}
	}
}

// encodeFields encodes name, value pairs as grpc-go's encoder does.
func encodeFields(t *testing.T, enc *hpack.Encoder, buf *bytes.Buffer, fields ...string) []byte {
	t.Helper()
	buf.Reset()
	for i := 0; i < len(fields); i += 2 {
		if err := enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]}); err != nil {
			t.Fatal(err)
		}
	}
	return bytes.Clone(buf.Bytes())
}

func TestHPACKDecoderRejectsMalformed(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	huffmanLong := encodeFields(t, enc, &buf, "x", strings.Repeat("0", maxHeaderStringLen+1)) // shorter than the limit, coded
	if len(huffmanLong) > maxHeaderStringLen {
		t.Fatalf("Huffman-coded string of %d bytes, want less than %d", len(huffmanLong), maxHeaderStringLen)
	}
	tests := []struct {
		name  string
		block []byte
	}{
		{"index 0", []byte{0x80}},
		{"index past the tables", []byte{0xbf, 0x10}},
		{"truncated integer", []byte{0xff}},
		{"truncated string", []byte{0x00, 0x05, 'a'}},
		{"size update above the limit", []byte{0x3f, 0xe2, 0x1f}}, // 4097
		{"size update after a field", []byte{0x40, 0x01, 'a', 0x01, 'b', 0x20}},
		{"integer overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
		{"huffman EOS", []byte{0x00, 0x01, 'a', 0x84, 0xff, 0xff, 0xff, 0xfc}},
		{"huffman padding of 8 bits", []byte{0x00, 0x01, 'a', 0x82, 0x07, 0xff}},
		{"huffman padding with a zero bit", []byte{0x00, 0x01, 'a', 0x81, 0x00}},
		{"literal longer than the limit", []byte{0x00, 0x01, 'a', 0x7f, 0x82, 0x80, 0x40}}, // 1 MiB + 3, not there
		{"huffman literal longer than the limit", huffmanLong},
	}
	for _, tt := range tests {
		dec := newHeaderDecoder()
		if err := dec.decode(tt.block, func(string, string) {}); !errors.Is(err, errHPACK) {
			t.Errorf("%s: decode(%x) = %v, want an hpack error", tt.name, tt.block[:min(len(tt.block), 16)], err)
		}
	}
}

// TestHPACKHeaderListIsBounded sends many references to a large dynamic
// table entry: a small block that decodes into more than maxHeaderListSize.
func TestHPACKHeaderListIsBounded(t *testing.T) {
	t.Parallel()
	value := strings.Repeat("v", 4000)
	size := len("x") + len(value) + 32
	for _, tt := range []struct {
		fields int
		ok     bool
	}{
		{maxHeaderListSize / size, true},
		{maxHeaderListSize/size + 1, false},
	} {
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		var fields []string
		for range tt.fields {
			fields = append(fields, "x", value)
		}
		block := encodeFields(t, enc, &buf, fields...)
		dec := newHeaderDecoder()
		n := 0
		err := dec.decode(block, func(name, value string) { n++ })
		if tt.ok && (err != nil || n != tt.fields) {
			t.Errorf("%d fields in a block of %d bytes: %d decoded, %v", tt.fields, len(block), n, err)
		}
		if !tt.ok && !errors.Is(err, errHPACK) {
			t.Errorf("%d fields in a block of %d bytes: %v, want an hpack error", tt.fields, len(block), err)
		}
	}
}

// TestRequestHeadersDecodeWithXNet decodes the request blocks of one
// connection each with a new decoder: a block depends on no earlier one.
func TestRequestHeadersDecodeWithXNet(t *testing.T) {
	t.Parallel()
	enc := newHeaderEncoder()
	for _, timeout := range []string{"1999m", "", "5S"} {
		block := enc.appendRequest([]byte("prefix"), "/authd.v1.Broker/GetToken", timeout)
		if !bytes.HasPrefix(block, []byte("prefix")) {
			t.Fatalf("appendRequest dropped what it appended to: %q", block)
		}
		var got []hpack.HeaderField
		dec := hpack.NewDecoder(4096, func(hf hpack.HeaderField) { got = append(got, hf) })
		if _, err := dec.Write(block[len("prefix"):]); err != nil {
			t.Fatal(err)
		}
		if err := dec.Close(); err != nil {
			t.Fatal(err)
		}
		want := []hpack.HeaderField{
			{Name: ":method", Value: "POST"},
			{Name: ":scheme", Value: "http"},
			{Name: ":path", Value: "/authd.v1.Broker/GetToken"},
			{Name: ":authority", Value: "localhost"},
			{Name: "content-type", Value: "application/grpc"},
			{Name: "te", Value: "trailers"},
		}
		if timeout != "" {
			want = append(want, hpack.HeaderField{Name: "grpc-timeout", Value: timeout})
		}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if got[i].Name != want[i].Name || got[i].Value != want[i].Value {
				t.Errorf("field %d = %v, want %v", i, got[i], want[i])
			}
		}
	}
}

func TestEncodeTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0n"},
		{-time.Second, "0n"},
		{time.Nanosecond, "1n"},
		{99999999 * time.Nanosecond, "99999999n"},
		{100 * time.Millisecond, "100000u"},
		{100*time.Millisecond + 1, "100001u"}, // rounded up
		{5 * time.Second, "5000000u"},
		{2 * time.Minute, "120000m"},
		{30 * time.Hour, "108000S"},
		{50000 * time.Hour, "3000000M"},
		{1<<63 - 1, "2562048H"},
	}
	for _, tt := range tests {
		if got := encodeTimeout(tt.in); got != tt.want {
			t.Errorf("encodeTimeout(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeGRPCMessage(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"100%25 sure", "100% sure"},
		{"caf%C3%A9", "café"},
		{"line%0Abreak", "line\nbreak"},
		{"bad %zz escape", "bad %zz escape"},
		{"trailing %4", "trailing %4"},
		{"%", "%"},
	}
	for _, tt := range tests {
		if got := decodeGRPCMessage(tt.in); got != tt.want {
			t.Errorf("decodeGRPCMessage(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDecodeBase64(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 200 {
		b := make([]byte, n%40)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
			s := enc.EncodeToString(b)
			got, err := decodeBase64(s)
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("decodeBase64(%q) = %x, %v; want %x", s, got, err, b)
			}
		}
	}
	for _, bad := range []string{"A", "AB=C", "AB===", "A*==", "ABCDE", "AB=*"} {
		if got, err := decodeBase64(bad); err == nil {
			t.Errorf("decodeBase64(%q) = %x, want a failure", bad, got)
		}
	}
}
