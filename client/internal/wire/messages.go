package wire

import (
	"fmt"
	"time"
)

// The messages of proto/authd/v1/broker.proto, as plain structs. Requests
// have a Marshal method, responses an Unmarshal method; unknown fields are
// skipped, and a Timestamp left out decodes as the zero time.Time.

// GetTokenRequest is authd.v1.GetTokenRequest.
type GetTokenRequest struct {
	Profile      string
	Scopes       []string
	Audience     string
	MinValid     time.Duration // 0 leaves min_valid out: the daemon's default
	Interactive  bool
	ForceRefresh bool
	WantIDToken  bool
	Rejected     string // rejected_token
}

// Marshal encodes r in the protobuf wire format.
func (r *GetTokenRequest) Marshal() []byte {
	b := make([]byte, 0, 64)
	b = appendString(b, 1, r.Profile)
	for _, s := range r.Scopes {
		// A repeated string keeps its empty elements.
		b = appendTag(b, 2, wireBytes)
		b = appendVarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = appendString(b, 3, r.Audience)
	b = appendDuration(b, 4, r.MinValid)
	b = appendBool(b, 5, r.Interactive)
	b = appendBool(b, 6, r.ForceRefresh)
	b = appendBool(b, 7, r.WantIDToken)
	b = appendString(b, 8, r.Rejected)
	return b
}

// Token is authd.v1.Token.
type Token struct {
	AccessToken string
	TokenType   string
	Expiry      time.Time
	Scopes      []string
	IDToken     string
	Profile     string
}

// Unmarshal decodes b into t.
func (t *Token) Unmarshal(b []byte) error {
	return unmarshal("Token", b, func(f field) error {
		switch {
		case f.is(1, wireBytes):
			t.AccessToken = string(f.data)
		case f.is(2, wireBytes):
			t.TokenType = string(f.data)
		case f.is(3, wireBytes):
			return decodeTimestamp(f.data, &t.Expiry)
		case f.is(4, wireBytes):
			return appendBounded(&t.Scopes, string(f.data))
		case f.is(5, wireBytes):
			t.IDToken = string(f.data)
		case f.is(6, wireBytes):
			t.Profile = string(f.data)
		}
		return nil
	})
}

// LoginRequest is authd.v1.LoginRequest.
type LoginRequest struct {
	Profile   string
	Force     bool
	Device    bool
	NoBrowser bool
}

// Marshal encodes r in the protobuf wire format.
func (r *LoginRequest) Marshal() []byte {
	b := make([]byte, 0, 32)
	b = appendString(b, 1, r.Profile)
	b = appendBool(b, 2, r.Force)
	b = appendBool(b, 3, r.Device)
	b = appendBool(b, 4, r.NoBrowser)
	return b
}

// LoginEvent is authd.v1.LoginEvent: at most one member is set. An event
// with none set comes from a newer daemon (a member this package does not
// know) and is best ignored.
type LoginEvent struct {
	OpenURL    *OpenURL
	DeviceCode *DeviceCode
	Waiting    *Waiting
	Done       *Done
}

// OpenURL is authd.v1.OpenURL: open URL in the user's browser.
type OpenURL struct {
	URL         string
	RedirectURI string
}

// DeviceCode is authd.v1.DeviceCode.
type DeviceCode struct {
	VerificationURI         string
	UserCode                string
	VerificationURIComplete string
	Expires                 time.Time
}

// Waiting is authd.v1.Waiting: the client joined a login another started.
type Waiting struct {
	StartedBy string
}

// Done is authd.v1.Done.
type Done struct {
	Expiry          time.Time
	Account         string
	AlreadyLoggedIn bool // no login ran: the session was logged in already
}

// Unmarshal decodes b into e. As in protobuf, the last oneof member wins.
func (e *LoginEvent) Unmarshal(b []byte) error {
	return unmarshal("LoginEvent", b, func(f field) error {
		if f.typ != wireBytes || f.num < 1 || f.num > 4 {
			return nil
		}
		// A member repeated on the wire merges into the one already set;
		// another member replaces it.
		old := *e
		*e = LoginEvent{}
		switch f.num {
		case 1:
			e.OpenURL = old.OpenURL
			if e.OpenURL == nil {
				e.OpenURL = new(OpenURL)
			}
			return e.OpenURL.unmarshal(f.data)
		case 2:
			e.DeviceCode = old.DeviceCode
			if e.DeviceCode == nil {
				e.DeviceCode = new(DeviceCode)
			}
			return e.DeviceCode.unmarshal(f.data)
		case 3:
			e.Waiting = old.Waiting
			if e.Waiting == nil {
				e.Waiting = new(Waiting)
			}
			return e.Waiting.unmarshal(f.data)
		default:
			e.Done = old.Done
			if e.Done == nil {
				e.Done = new(Done)
			}
			return e.Done.unmarshal(f.data)
		}
	})
}

func (o *OpenURL) unmarshal(b []byte) error {
	return decodeFields(b, func(f field) error {
		switch {
		case f.is(1, wireBytes):
			o.URL = string(f.data)
		case f.is(2, wireBytes):
			o.RedirectURI = string(f.data)
		}
		return nil
	})
}

func (d *DeviceCode) unmarshal(b []byte) error {
	return decodeFields(b, func(f field) error {
		switch {
		case f.is(1, wireBytes):
			d.VerificationURI = string(f.data)
		case f.is(2, wireBytes):
			d.UserCode = string(f.data)
		case f.is(3, wireBytes):
			d.VerificationURIComplete = string(f.data)
		case f.is(4, wireBytes):
			return decodeTimestamp(f.data, &d.Expires)
		}
		return nil
	})
}

func (w *Waiting) unmarshal(b []byte) error {
	return decodeFields(b, func(f field) error {
		if f.is(1, wireBytes) {
			w.StartedBy = string(f.data)
		}
		return nil
	})
}

func (d *Done) unmarshal(b []byte) error {
	return decodeFields(b, func(f field) error {
		switch {
		case f.is(1, wireBytes):
			return decodeTimestamp(f.data, &d.Expiry)
		case f.is(2, wireBytes):
			d.Account = string(f.data)
		case f.is(3, wireVarint):
			d.AlreadyLoggedIn = f.v != 0
		}
		return nil
	})
}

// LogoutRequest is authd.v1.LogoutRequest.
type LogoutRequest struct {
	Profile string
	All     bool
}

// Marshal encodes r in the protobuf wire format.
func (r *LogoutRequest) Marshal() []byte {
	b := make([]byte, 0, 16)
	b = appendString(b, 1, r.Profile)
	b = appendBool(b, 2, r.All)
	return b
}

// LogoutResponse is authd.v1.LogoutResponse.
type LogoutResponse struct {
	Profiles []string
}

// Unmarshal decodes b into r.
func (r *LogoutResponse) Unmarshal(b []byte) error {
	return unmarshal("LogoutResponse", b, func(f field) error {
		if f.is(1, wireBytes) {
			return appendBounded(&r.Profiles, string(f.data))
		}
		return nil
	})
}

// StatusRequest is authd.v1.StatusRequest.
type StatusRequest struct{}

// Marshal encodes r in the protobuf wire format: no bytes at all.
func (r *StatusRequest) Marshal() []byte { return nil }

// StatusResponse is authd.v1.StatusResponse.
type StatusResponse struct {
	Version        string
	ConfigPath     string
	KeyringBackend string
	DefaultProfile string
	Profiles       []ProfileStatus
	PID            int32
	ReloadError    string // the last failed reload's problems, one a line; the old config is still served
	Build          string // the daemon's commit, its time and Go version, as known
	StartedBy      string // "autostart" for a daemon a client started, else ""
	Goroutines     int32  // the daemon's goroutines now
}

// ProfileStatus is authd.v1.ProfileStatus.
type ProfileStatus struct {
	Name            string
	Issuer          string
	State           string // logged_out, logging_in, valid, refreshing, expired, needs_login
	Account         string
	Expiry          time.Time
	LastRefresh     time.Time
	NextRefresh     time.Time
	LastError       string
	HasRefreshToken bool
	Flow            string
	Failures        int32
	Source          string // session, static, client_credentials, or empty
}

// Unmarshal decodes b into r.
func (r *StatusResponse) Unmarshal(b []byte) error {
	return unmarshal("StatusResponse", b, func(f field) error {
		switch {
		case f.is(1, wireBytes):
			r.Version = string(f.data)
		case f.is(2, wireBytes):
			r.ConfigPath = string(f.data)
		case f.is(3, wireBytes):
			r.KeyringBackend = string(f.data)
		case f.is(4, wireBytes):
			r.DefaultProfile = string(f.data)
		case f.is(5, wireBytes):
			var p ProfileStatus
			if err := p.unmarshal(f.data); err != nil {
				return err
			}
			return appendBounded(&r.Profiles, p)
		case f.is(6, wireVarint):
			r.PID = int32(f.v)
		case f.is(7, wireBytes):
			r.ReloadError = string(f.data)
		case f.is(8, wireBytes):
			r.Build = string(f.data)
		case f.is(9, wireBytes):
			r.StartedBy = string(f.data)
		case f.is(10, wireVarint):
			r.Goroutines = int32(f.v)
		}
		return nil
	})
}

func (p *ProfileStatus) unmarshal(b []byte) error {
	return decodeFields(b, func(f field) error {
		switch {
		case f.is(1, wireBytes):
			p.Name = string(f.data)
		case f.is(2, wireBytes):
			p.Issuer = string(f.data)
		case f.is(3, wireBytes):
			p.State = string(f.data)
		case f.is(4, wireBytes):
			p.Account = string(f.data)
		case f.is(5, wireBytes):
			return decodeTimestamp(f.data, &p.Expiry)
		case f.is(6, wireBytes):
			return decodeTimestamp(f.data, &p.LastRefresh)
		case f.is(7, wireBytes):
			return decodeTimestamp(f.data, &p.NextRefresh)
		case f.is(8, wireBytes):
			p.LastError = string(f.data)
		case f.is(9, wireVarint):
			p.HasRefreshToken = f.v != 0
		case f.is(10, wireBytes):
			p.Flow = string(f.data)
		case f.is(11, wireVarint):
			p.Failures = int32(f.v)
		case f.is(12, wireBytes):
			p.Source = string(f.data)
		}
		return nil
	})
}

// SetCredentialRequest is authd.v1.SetCredentialRequest. Its credential is
// a oneof: set AccessToken or ClientSecret. When both are set, only
// AccessToken is sent.
type SetCredentialRequest struct {
	Profile      string
	AccessToken  string
	ClientSecret string
}

// Marshal encodes r in the protobuf wire format.
func (r *SetCredentialRequest) Marshal() []byte {
	b := make([]byte, 0, 32+len(r.AccessToken)+len(r.ClientSecret))
	b = appendString(b, 1, r.Profile)
	if r.AccessToken != "" {
		b = appendString(b, 2, r.AccessToken)
	} else {
		b = appendString(b, 3, r.ClientSecret)
	}
	return b
}

// SetCredentialResponse is authd.v1.SetCredentialResponse.
type SetCredentialResponse struct {
	Profile string
	Expiry  time.Time
}

// Unmarshal decodes b into r.
func (r *SetCredentialResponse) Unmarshal(b []byte) error {
	return unmarshal("SetCredentialResponse", b, func(f field) error {
		switch {
		case f.is(1, wireBytes):
			r.Profile = string(f.data)
		case f.is(2, wireBytes):
			return decodeTimestamp(f.data, &r.Expiry)
		}
		return nil
	})
}

// ReloadRequest is authd.v1.ReloadRequest.
type ReloadRequest struct{}

// Marshal encodes r in the protobuf wire format: no bytes at all.
func (r *ReloadRequest) Marshal() []byte { return nil }

// ReloadResponse is authd.v1.ReloadResponse.
type ReloadResponse struct {
	ConfigPath     string
	Added          []string
	Changed        []string // their sessions start over from the keyring
	Removed        []string
	KeyringChanged bool // every session starts over from the new keyring
}

// Unmarshal decodes b into r.
func (r *ReloadResponse) Unmarshal(b []byte) error {
	return unmarshal("ReloadResponse", b, func(f field) error {
		switch {
		case f.is(1, wireBytes):
			r.ConfigPath = string(f.data)
		case f.is(2, wireBytes):
			return appendBounded(&r.Added, string(f.data))
		case f.is(3, wireBytes):
			return appendBounded(&r.Changed, string(f.data))
		case f.is(4, wireBytes):
			return appendBounded(&r.Removed, string(f.data))
		case f.is(5, wireVarint):
			r.KeyringChanged = f.v != 0
		}
		return nil
	})
}

func unmarshal(message string, b []byte, fn func(field) error) error {
	if err := decodeFields(b, fn); err != nil {
		return fmt.Errorf("decode %s: %w", message, err)
	}
	return nil
}

// maxRepeated bounds the elements of a repeated field: a 4 MiB message of
// empty elements would otherwise decode into gigabytes of structs.
const maxRepeated = 100000

func appendBounded[T any](list *[]T, v T) error {
	if len(*list) >= maxRepeated {
		return fmt.Errorf("%w: more than %d elements in a repeated field", errMalformed, maxRepeated)
	}
	*list = append(*list, v)
	return nil
}
