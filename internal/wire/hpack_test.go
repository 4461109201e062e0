package wire

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

func TestHuffmanDecodeMatchesXNet(t *testing.T) {
	t.Parallel()
	inputs := []string{"", "a", "application/grpc", "0", "200", "grpc-status-details-bin"}
	var all []byte
	for i := 0; i < 256; i++ {
		all = append(all, byte(i))
		inputs = append(inputs, string([]byte{byte(i)}), strings.Repeat(string([]byte{byte(i)}), 3))
	}
	inputs = append(inputs, string(all))
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		b := make([]byte, rng.IntN(64))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		enc := hpack.AppendHuffmanString(nil, in)
		got, err := huffmanDecode(nil, enc)
		if err != nil || string(got) != in {
			t.Fatalf("huffmanDecode(%x) = %q, %v; want %q", enc, got, err, in)
		}
	}
}

func TestHuffmanDecodeRejectsBadPadding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
	}{
		// '0' is 00000 (5 bits): the 3 padding bits must be ones.
		{"padding with a zero bit", []byte{0x00}},
		// A whole byte of ones is padding longer than 7 bits.
		{"padding of 8 bits", []byte{0x07, 0xff}},
		// EOS (30 ones) in the string.
		{"EOS", []byte{0xff, 0xff, 0xff, 0xfc}},
	}
	for _, tt := range tests {
		if got, err := huffmanDecode(nil, tt.in); err == nil {
			t.Errorf("%s: huffmanDecode(%x) = %q, want an error", tt.name, tt.in, got)
		}
	}
	if got, err := huffmanDecode(nil, []byte{0x07}); err != nil || string(got) != "0" {
		t.Errorf("huffmanDecode(07) = %q, %v; want \"0\"", got, err)
	}
}

// TestHPACKDecoderMatchesXNetEncoder decodes what grpc-go's encoder (x/net
// hpack) writes: dynamic table entries, evictions, table size updates,
// Huffman strings and never-indexed fields, over a run of header blocks.
func TestHPACKDecoderMatchesXNetEncoder(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	dec := newHPACKDecoder()
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
		if err := dec.decode(buf.Bytes(), func(hf headerField) { got = append(got, hf) }); err != nil {
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

func TestHPACKDecoderRejectsMalformed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		block []byte
	}{
		{"index 0", []byte{0x80}},
		{"index past the tables", []byte{0xbf, 0x10}},
		{"truncated integer", []byte{0xff}},
		{"truncated string", []byte{0x00, 0x05, 'a'}},
		{"size update above the limit", []byte{0x3f, 0xe2, 0x1f}}, // 4097
		{"size update after a field", []byte{0x88, 0x20}},
		{"integer overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}},
	}
	for _, tt := range tests {
		dec := newHPACKDecoder()
		if err := dec.decode(tt.block, func(headerField) {}); err == nil {
			t.Errorf("%s: decode(%x) succeeded, want an error", tt.name, tt.block)
		}
	}
}

func TestRequestHeadersDecodeWithXNet(t *testing.T) {
	t.Parallel()
	block := appendRequestHeaders(nil, "/authd.v1.Broker/GetToken", "1999m")
	var got []hpack.HeaderField
	dec := hpack.NewDecoder(4096, func(hf hpack.HeaderField) { got = append(got, hf) })
	if _, err := dec.Write(block); err != nil {
		t.Fatal(err)
	}
	want := []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: "/authd.v1.Broker/GetToken"},
		{Name: ":authority", Value: "localhost"},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
		{Name: "grpc-timeout", Value: "1999m"},
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

func TestConsumeVarint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in    []byte
		want  uint64
		wantN int
	}{
		{[]byte{0x00}, 0, 1},
		{[]byte{0x96, 0x01}, 150, 2},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1<<64 - 1, 10},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 0, -1}, // overflow
		{[]byte{0x80}, 0, -1}, // truncated
		{nil, 0, -1},
	}
	for _, tt := range tests {
		got, n := consumeVarint(tt.in)
		if got != tt.want || n != tt.wantN {
			t.Errorf("consumeVarint(%x) = %d, %d; want %d, %d", tt.in, got, n, tt.want, tt.wantN)
		}
		if n > 0 {
			if enc := appendVarint(nil, got); !bytes.Equal(enc, tt.in) {
				t.Errorf("appendVarint(%d) = %x, want %x", got, enc, tt.in)
			}
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
			got, ok := decodeBase64(s)
			if !ok || !bytes.Equal(got, b) {
				t.Fatalf("decodeBase64(%q) = %x, %v; want %x", s, got, ok, b)
			}
		}
	}
	for _, bad := range []string{"A", "AB=C", "AB===", "A*==", "ABCDE", "AB\n", "AR=="} {
		if got, ok := decodeBase64(bad); ok {
			t.Errorf("decodeBase64(%q) = %x, want a failure", bad, got)
		}
	}
}
