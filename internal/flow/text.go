package flow

import (
	"strings"
	"unicode/utf8"
)

// Caps on provider text kept in errors: enough to read, too little to flood
// a terminal, a log line or a gRPC status.
const (
	maxCodeLen        = 64
	maxDescriptionLen = 256
	maxLocationLen    = 256
	maxBodyExcerpt    = 128
)

// CleanText makes untrusted text (a provider's error, a callback parameter)
// safe to show: every control character (C0, DEL, C1) and every Unicode
// bidirectional override or isolate is replaced by a space, invalid UTF-8 by
// U+FFFD, and the result is cut at a rune boundary to at most max bytes,
// ending in "…" when cut. max <= 0 means no cap.
func CleanText(s string, max int) string {
	var b strings.Builder
	if max > 0 && max < len(s) {
		b.Grow(max)
	} else {
		b.Grow(len(s))
	}
	cut := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			r = utf8.RuneError
		case isControl(r):
			r = ' '
		}
		if max > 0 && b.Len()+utf8.RuneLen(r) > max {
			cut = true
			break
		}
		b.WriteRune(r)
	}
	if !cut {
		return b.String()
	}
	// Make room for the ellipsis within max.
	out := b.String()
	if max < len("…") {
		return out
	}
	for len(out)+len("…") > max {
		_, size := utf8.DecodeLastRuneInString(out)
		out = out[:len(out)-size]
	}
	return out + "…"
}

// isControl reports the runes a terminal or a log viewer may interpret:
// C0, DEL, C1, and the bidi embeddings, overrides and isolates (which can
// make a message read differently from what it says).
func isControl(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e, r == 0x200f, r == 0x061c: // LRM, RLM, ALM: invisible direction marks
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators break log lines
		return true
	}
	return false
}
