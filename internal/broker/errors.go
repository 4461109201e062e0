package broker

import (
	"errors"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/flow"
	"authd.dev/authd/internal/store"
)

// Sentinel errors callers branch on.
var (
	ErrLoginRequired   = errors.New("login required")
	ErrLoginTimeout    = errors.New("login timed out")
	ErrTokenLifetime   = errors.New("the provider's tokens live shorter than asked")
	ErrInvalidRequest  = errors.New("invalid request")
	ErrProfileNotFound = config.ErrProfileNotFound
)

var errInvalidConfig = errors.New("invalid configuration")

// Reason names the condition behind an error, as clients see it. The values
// are the names of the authd.v1.ErrorReason enum, which the server puts in
// every error it returns; a client branches on them, never on messages.
type Reason string

// The reasons [ReasonOf] gives.
const (
	ReasonUnspecified        Reason = "ERROR_REASON_UNSPECIFIED" // an internal error: no condition the user can act on
	ReasonLoginRequired      Reason = "LOGIN_REQUIRED"
	ReasonProfileNotFound    Reason = "PROFILE_NOT_FOUND"
	ReasonIDPUnavailable     Reason = "IDP_UNAVAILABLE"
	ReasonKeyringLocked      Reason = "KEYRING_LOCKED"
	ReasonKeyringUnavailable Reason = "KEYRING_UNAVAILABLE"
	ReasonInvalidConfig      Reason = "INVALID_CONFIG"
	ReasonLoginFailed        Reason = "LOGIN_FAILED"
	ReasonLoginTimeout       Reason = "LOGIN_TIMEOUT"
	ReasonInvalidRequest     Reason = "INVALID_REQUEST"
	ReasonTokenLifetime      Reason = "TOKEN_LIFETIME"
)

// ReasonOf names the condition behind an error the broker returned. The
// order matters where an error is two things at once: a login that timed
// out, or whose provider refused the grant, is told as such, not as the
// login it leaves required.
func ReasonOf(err error) Reason {
	switch {
	case errors.Is(err, ErrProfileNotFound):
		return ReasonProfileNotFound
	case errors.Is(err, errInvalidConfig):
		return ReasonInvalidConfig
	case errors.Is(err, ErrLoginTimeout):
		return ReasonLoginTimeout
	case errors.Is(err, ErrLoginRequired), errors.Is(err, flow.ErrInvalidGrant) && !errors.Is(err, flow.ErrLoginFailed):
		return ReasonLoginRequired
	case errors.Is(err, flow.ErrLoginFailed):
		return ReasonLoginFailed
	case errors.Is(err, flow.ErrUnavailable):
		return ReasonIDPUnavailable
	case errors.Is(err, store.ErrLocked):
		return ReasonKeyringLocked
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrTimeout), errors.Is(err, store.ErrNoPassphrase), errors.Is(err, store.ErrCorrupt):
		return ReasonKeyringUnavailable
	case errors.Is(err, ErrTokenLifetime):
		return ReasonTokenLifetime
	case errors.Is(err, ErrInvalidRequest):
		return ReasonInvalidRequest
	}
	return ReasonUnspecified
}

// refusedSecret marks a client secret the provider refused (invalid_client,
// RFC 6749 section 5.2) as a failed login: the user handed over a wrong
// secret, which is no fault of the daemon's.
func refusedSecret(err error) error {
	var pe *flow.ProviderError
	if errors.As(err, &pe) && pe.Code == "invalid_client" {
		return loginFailedError{err}
	}
	return err
}

// loginFailedError is an error that is flow.ErrLoginFailed, with the text
// of the error it wraps.
type loginFailedError struct{ error }

func (e loginFailedError) Unwrap() error        { return e.error }
func (e loginFailedError) Is(target error) bool { return target == flow.ErrLoginFailed }
