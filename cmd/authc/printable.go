package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxPrintable caps one piece of text from the daemon on authc's output: a
// provider's 900 KB error_description is noise, not a message.
const maxPrintable = 1000

// printable makes text that did not come from authc itself (the daemon's
// messages, which quote the provider; status fields; login events) safe for
// a terminal: control characters, which could forge lines, move the cursor
// or set a window title, are written as Go escapes (\x1b, \u202e), and the
// text is capped at maxPrintable bytes.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if b.Len() >= maxPrintable {
			fmt.Fprintf(&b, "... (%d more bytes)", len(s)-i)
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			// A stray byte such as 0x9b is CSI to a terminal that is not
			// in UTF-8 mode.
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unsafeRune(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// unsafeRune reports the runes a terminal acts on rather than shows: C0
// controls (tab and newline included: a field has one line), DEL, C1
// controls, and the bidirectional overrides and isolates that make text
// read in another order than it is (CVE-2021-42574).
func unsafeRune(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
		(r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// jsonPrintable escapes in JSON that encoding/json wrote the runes it leaves
// raw (DEL, C1 controls, bidi overrides) as \uXXXX. They can only occur in
// strings, where the escape decodes to the very same text: the output stays
// exact for programs and harmless on a terminal. (C0 controls in strings
// are escaped already; outside them, they are the indentation's newlines.)
func jsonPrintable(data []byte) []byte {
	raw := func(r rune) bool { return r >= 0x7f && unsafeRune(r) }
	if !bytes.ContainsFunc(data, raw) {
		return data
	}
	var b bytes.Buffer
	for _, r := range string(data) {
		if raw(r) {
			fmt.Fprintf(&b, `\u%04x`, r)
		} else {
			b.WriteRune(r)
		}
	}
	return b.Bytes()
}

// checkTokenText refuses a token that is not one printable word: printed
// as it is, a newline in it would add a line to a script's input, an escape
// sequence would reach the terminal. RFC 6750 tokens have neither.
func checkTokenText(what, tok string) error {
	for _, r := range tok {
		if unsafeRune(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return fmt.Errorf("the %s has control characters or white space in it; refusing to print it (the provider's token is malformed)", what)
		}
	}
	return nil
}
