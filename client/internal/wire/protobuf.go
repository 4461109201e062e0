package wire

import (
	"errors"
	"time"
)

// Protocol Buffers wire types.
const (
	wireVarint     = 0
	wireFixed64    = 1
	wireBytes      = 2
	wireStartGroup = 3
	wireEndGroup   = 4
	wireFixed32    = 5
)

// errMalformed reports bytes that are not a valid protobuf encoding.
var errMalformed = errors.New("malformed protobuf message")

// maxGroupDepth bounds the nesting of unknown groups skipped while
// decoding, as the protobuf runtime's default recursion limit does.
const maxGroupDepth = 10000

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendTag(b []byte, num, typ int) []byte {
	return appendVarint(b, uint64(num)<<3|uint64(typ))
}

// appendString appends a string field; proto3 leaves the empty string out.
func appendString(b []byte, num int, s string) []byte {
	if s == "" {
		return b
	}
	b = appendTag(b, num, wireBytes)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBool(b []byte, num int, v bool) []byte {
	if !v {
		return b
	}
	b = appendTag(b, num, wireVarint)
	return append(b, 1)
}

func appendInt64(b []byte, num int, v int64) []byte {
	if v == 0 {
		return b
	}
	b = appendTag(b, num, wireVarint)
	return appendVarint(b, uint64(v))
}

// appendMessage appends an embedded message field (present even when empty).
func appendMessage(b []byte, num int, msg []byte) []byte {
	b = appendTag(b, num, wireBytes)
	b = appendVarint(b, uint64(len(msg)))
	return append(b, msg...)
}

// appendDuration appends a google.protobuf.Duration field; zero is left out.
func appendDuration(b []byte, num int, d time.Duration) []byte {
	if d == 0 {
		return b
	}
	// Seconds and nanos share the sign of d, as google.protobuf.Duration requires.
	var msg [24]byte
	m := appendInt64(msg[:0], 1, int64(d/time.Second))
	m = appendInt64(m, 2, int64(int32(d%time.Second)))
	return appendMessage(b, num, m)
}

// consumeVarint returns the varint at the start of b and its length, or
// n <= 0 when b does not start with a valid one.
func consumeVarint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, -1 // overflows 64 bits
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, -1
}

// field is one field of a message being decoded: data holds the bytes of a
// length-delimited field, v the value of the others.
type field struct {
	num  int
	typ  int
	v    uint64
	data []byte
}

func (f field) is(num, typ int) bool { return f.num == num && f.typ == typ }

// decodeFields calls fn for each field of the message in b, in order, and
// skips groups. A field whose wire type does not match the one expected is
// treated as unknown by the caller's switch, as the protobuf runtime does.
func decodeFields(b []byte, fn func(field) error) error {
	for len(b) > 0 {
		tag, n := consumeVarint(b)
		if n <= 0 {
			return errMalformed
		}
		b = b[n:]
		f := field{num: int(tag >> 3), typ: int(tag & 7)}
		if f.num <= 0 || tag>>3 > 1<<29-1 {
			return errMalformed
		}
		n = consumeValue(f.num, f.typ, b, 0)
		if n < 0 {
			return errMalformed
		}
		switch f.typ {
		case wireVarint:
			f.v, _ = consumeVarint(b)
		case wireFixed64:
			f.v = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
				uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		case wireFixed32:
			f.v = uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24
		case wireBytes:
			_, m := consumeVarint(b)
			f.data = b[m:n]
		case wireStartGroup:
			b = b[n:]
			continue // unknown groups carry nothing authd uses
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// consumeValue returns the length of the value of a field of wire type typ
// at the start of b, or -1 when b is too short or malformed.
func consumeValue(num, typ int, b []byte, depth int) int {
	switch typ {
	case wireVarint:
		_, n := consumeVarint(b)
		if n <= 0 {
			return -1
		}
		return n
	case wireFixed64:
		if len(b) < 8 {
			return -1
		}
		return 8
	case wireFixed32:
		if len(b) < 4 {
			return -1
		}
		return 4
	case wireBytes:
		l, n := consumeVarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return -1
		}
		return n + int(l)
	case wireStartGroup:
		if depth >= maxGroupDepth {
			return -1
		}
		total := 0
		for {
			tag, n := consumeVarint(b[total:])
			if n <= 0 {
				return -1
			}
			total += n
			innerNum, innerTyp := int(tag>>3), int(tag&7)
			if innerTyp == wireEndGroup {
				if innerNum != num {
					return -1
				}
				return total
			}
			m := consumeValue(innerNum, innerTyp, b[total:], depth+1)
			if m < 0 {
				return -1
			}
			total += m
		}
	}
	return -1 // wireEndGroup without a start, or types 6 and 7
}

// decodeTimestamp merges a google.protobuf.Timestamp into t (UTC).
func decodeTimestamp(b []byte, t *time.Time) error {
	var sec int64
	var nanos int32
	if !t.IsZero() {
		sec, nanos = t.Unix(), int32(t.Nanosecond())
	}
	err := decodeFields(b, func(f field) error {
		switch {
		case f.is(1, wireVarint):
			sec = int64(f.v)
		case f.is(2, wireVarint):
			nanos = int32(f.v)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*t = time.Unix(sec, int64(nanos)).UTC()
	return nil
}
