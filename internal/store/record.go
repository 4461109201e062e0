package store

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// RecordVersion is the version of the [Record] layout this package writes.
const RecordVersion = 1

// Record is what the store keeps for one session. [Keyring.Put] stores a copy
// with Version set to [RecordVersion] and UpdatedAt set to the time of writing.
//
// A Record formats itself with its tokens redacted (see [Record.String]).
type Record struct {
	Version      int       `json:"version"`
	Issuer       string    `json:"issuer,omitempty"`
	ClientID     string    `json:"client_id,omitempty"`
	Account      string    `json:"account,omitempty"` // subject or e-mail, for display
	Source       string    `json:"source,omitempty"`  // how the token was obtained, in the broker's words
	ClientSecret string    `json:"client_secret,omitempty"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	AccessToken  string    `json:"access_token,omitempty"`
	TokenType    string    `json:"token_type,omitempty"`
	Expiry       time.Time `json:"expiry,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Scopes       []string  `json:"scopes,omitempty"`
	IssuedAt     time.Time `json:"issued_at,omitempty"`  // when the access token was issued
	RefreshAt    time.Time `json:"refresh_at,omitempty"` // the provider's hint of when to refresh, if any
	UpdatedAt    time.Time `json:"updated_at"`
	// NeedsLogin: the broker gave up the session's refresh token (the
	// provider refused it, or may have rotated it without answering) and
	// dropped it from this record; a login is needed.
	NeedsLogin bool `json:"needs_login,omitempty"`
}

// String describes r with every token replaced by "<redacted>" (or left
// empty when absent), so that it is safe to log.
func (r Record) String() string {
	var b strings.Builder
	b.WriteString("store.Record{")
	field := func(name, value string) {
		if b.Len() > len("store.Record{") {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(value)
	}
	secret := func(v string) string {
		if v == "" {
			return `""`
		}
		return "<redacted>"
	}
	timeString := func(t time.Time) string {
		if t.IsZero() {
			return "0"
		}
		return t.Format(time.RFC3339)
	}
	field("Version", strconv.Itoa(r.Version))
	field("Issuer", strconv.Quote(r.Issuer))
	field("ClientID", strconv.Quote(r.ClientID))
	field("Account", strconv.Quote(r.Account))
	field("Source", strconv.Quote(r.Source))
	field("ClientSecret", secret(r.ClientSecret))
	field("RefreshToken", secret(r.RefreshToken))
	field("AccessToken", secret(r.AccessToken))
	field("TokenType", strconv.Quote(r.TokenType))
	field("Expiry", timeString(r.Expiry))
	field("IDToken", secret(r.IDToken))
	field("Scopes", fmt.Sprintf("%q", r.Scopes))
	field("IssuedAt", timeString(r.IssuedAt))
	field("RefreshAt", timeString(r.RefreshAt))
	field("UpdatedAt", timeString(r.UpdatedAt))
	field("NeedsLogin", strconv.FormatBool(r.NeedsLogin))
	b.WriteString("}")
	return b.String()
}

// GoString is [Record.String]: %#v redacts tokens too.
func (r Record) GoString() string { return r.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x, ...) print the
// redacted form of [Record.String].
func (r Record) Format(f fmt.State, verb rune) {
	s := r.String()
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = f.Write([]byte(s))
}

// LogValue keeps [log/slog] handlers (the JSON one included, which would
// otherwise marshal the struct) from printing tokens.
func (r Record) LogValue() slog.Value { return slog.StringValue(r.String()) }

// encodeRecord returns the JSON stored for r: a copy stamped with
// RecordVersion and now.
func encodeRecord(r *Record, now time.Time) ([]byte, error) {
	stored := *r
	stored.Version = RecordVersion
	stored.UpdatedAt = now.UTC()
	data, err := json.Marshal(&stored)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return data, nil
}

// decodeRecord parses a stored record. Anything it cannot fully trust is
// ErrCorrupt: bad JSON, a missing version, or a version newer than this code.
func decodeRecord(data []byte) (*Record, error) {
	var header struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &header); err != nil {
		return nil, fmt.Errorf("%w: invalid JSON: %v", ErrCorrupt, err)
	}
	switch {
	case header.Version == nil:
		return nil, fmt.Errorf("%w: the record has no version", ErrCorrupt)
	case *header.Version > RecordVersion:
		return nil, fmt.Errorf("%w: record version %d is newer than this authd understands (%d); upgrade authd",
			ErrCorrupt, *header.Version, RecordVersion)
	case *header.Version < 1:
		return nil, fmt.Errorf("%w: invalid record version %d", ErrCorrupt, *header.Version)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%w: invalid record: %v", ErrCorrupt, err)
	}
	return &r, nil
}
