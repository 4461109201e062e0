package wire

import (
	"bytes"
	"errors"
	"testing"
)

// A response of empty repeated elements used to decode into gigabytes:
// 4 MiB of empty profiles made 2 GiB of ProfileStatus.
func TestRepeatedFieldsAreBounded(t *testing.T) {
	for _, tt := range []struct {
		name string
		msg  func() interface{ Unmarshal([]byte) error }
		elem []byte
	}{
		{"status profiles", func() interface{ Unmarshal([]byte) error } { return &StatusResponse{} }, []byte{0x2a, 0x00}},
		{"token scopes", func() interface{ Unmarshal([]byte) error } { return &Token{} }, []byte{0x22, 0x00}},
		{"logout profiles", func() interface{ Unmarshal([]byte) error } { return &LogoutResponse{} }, []byte{0x0a, 0x00}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := bytes.Repeat(tt.elem, maxMessageSize/len(tt.elem))
			if err := tt.msg().Unmarshal(b); !errors.Is(err, errMalformed) {
				t.Errorf("%d repeated elements: %v, want a malformed message", len(b)/len(tt.elem), err)
			}
			ok := bytes.Repeat(tt.elem, 100)
			if err := tt.msg().Unmarshal(ok); err != nil {
				t.Errorf("100 repeated elements: %v", err)
			}
		})
	}
}
