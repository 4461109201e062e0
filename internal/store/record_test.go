package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

const (
	testRefreshToken = "rt-SECRET-refresh-0123456789"
	testAccessToken  = "at-SECRET-access-0123456789"
	testIDToken      = "eyJ.SECRET-id.token"
)

func testRecord() *Record {
	return &Record{
		Issuer:       "https://idp.example.com",
		ClientID:     "authd-cli",
		Account:      "alice@example.com",
		RefreshToken: testRefreshToken,
		AccessToken:  testAccessToken,
		TokenType:    "Bearer",
		Expiry:       time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		IDToken:      testIDToken,
		Scopes:       []string{"openid", "offline_access"},
	}
}

func TestRecordFormattingRedactsTokens(t *testing.T) {
	t.Parallel()
	r := testRecord()
	outputs := map[string]string{
		"%v value":   fmt.Sprintf("%v", *r),
		"%v pointer": fmt.Sprintf("%v", r),
		"%+v":        fmt.Sprintf("%+v", r),
		"%#v":        fmt.Sprintf("%#v", r),
		"%s":         fmt.Sprintf("%s", r),
		"%q":         fmt.Sprintf("%q", r),
		"%x":         fmt.Sprintf("%x", r),
		"%d":         fmt.Sprintf("%d", *r),
		"Sprint":     fmt.Sprint(r),
		"Sprintln":   fmt.Sprintln(*r),
		"in a slice": fmt.Sprintf("%v", []*Record{r}),
		"in a struct": fmt.Sprintf("%+v", struct {
			R Record
		}{*r}),
		"String":   r.String(),
		"GoString": r.GoString(),
		"error":    fmt.Errorf("saving %v failed", r).Error(),
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("saved", "record", r, "value", *r)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("saved", "record", r)
	outputs["slog"] = logged.String()

	for name, out := range outputs {
		for _, secret := range []string{testRefreshToken, testAccessToken, testIDToken, "SECRET"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s output leaks a token: %s", name, out)
			}
		}
	}
	// Redacted, but still useful.
	for _, want := range []string{"alice@example.com", "RefreshToken: <redacted>", "AccessToken: <redacted>", "IDToken: <redacted>", "2030-01-02T03:04:05Z"} {
		if !strings.Contains(outputs["%v pointer"], want) {
			t.Errorf("%%v output %q lacks %q", outputs["%v pointer"], want)
		}
	}
	if got := fmt.Sprintf("%v", Record{Account: "bob"}); !strings.Contains(got, `RefreshToken: ""`) {
		t.Errorf("a record without tokens should show them empty, got %s", got)
	}
	var nilRecord *Record
	if got := fmt.Sprintf("%v", nilRecord); got != "<nil>" {
		t.Errorf("nil record formats as %q, want <nil>", got)
	}
}

func TestEncodeRecordStampsVersionAndTime(t *testing.T) {
	t.Parallel()
	r := testRecord()
	r.Version = 99
	now := time.Date(2031, 5, 6, 7, 8, 9, 0, time.FixedZone("X", 3600))
	data, err := encodeRecord(r, now)
	if err != nil {
		t.Fatal(err)
	}
	var stored Record
	if err := json.Unmarshal(data, &stored); err != nil {
		t.Fatal(err)
	}
	if stored.Version != RecordVersion || !stored.UpdatedAt.Equal(now) || stored.UpdatedAt.Location() != time.UTC {
		t.Errorf("stored version %d updated_at %v, want %d and %v in UTC", stored.Version, stored.UpdatedAt, RecordVersion, now)
	}
	if r.Version != 99 || !r.UpdatedAt.IsZero() {
		t.Errorf("encodeRecord modified the caller's record: %v", r)
	}
}

func TestDecodeRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    string
		wantErr string // "" means success
	}{
		{"current version", `{"version":1,"account":"a","refresh_token":"r","updated_at":"2030-01-01T00:00:00Z"}`, ""},
		{"unknown fields are kept compatible", `{"version":1,"future_field":true,"updated_at":"2030-01-01T00:00:00Z"}`, ""},
		{"newer version", `{"version":2,"refresh_token":"r"}`, "record version 2 is newer"},
		{"much newer version", `{"version":17}`, "record version 17 is newer"},
		{"no version", `{"refresh_token":"r"}`, "no version"},
		{"zero version", `{"version":0}`, "invalid record version 0"},
		{"negative version", `{"version":-1}`, "invalid record version -1"},
		{"empty", ``, "invalid JSON"},
		{"truncated", `{"version":1,"refresh_token":"r`, "invalid JSON"},
		{"not an object", `"version"`, "invalid JSON"},
		{"null", `null`, "no version"},
		{"wrong type", `{"version":1,"scopes":"openid"}`, "invalid record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := decodeRecord([]byte(tt.data))
			if tt.wantErr == "" {
				if err != nil || r == nil || r.Version != 1 {
					t.Fatalf("decodeRecord(%s) = %v, %v; want a version 1 record", tt.data, r, err)
				}
				return
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("decodeRecord(%s) error = %v; want ErrCorrupt mentioning %q", tt.data, err, tt.wantErr)
			}
			if r != nil {
				t.Fatalf("decodeRecord(%s) returned a record with its error", tt.data)
			}
		})
	}
}
