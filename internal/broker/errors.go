package broker

import (
	"errors"

	"authd.dev/authd/api"

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

// ReasonOf names the condition behind an error the broker returned. The
// order matters where an error is two things at once: a login that timed
// out, or whose provider refused the grant, is told as such, not as the
// login it leaves required.
func ReasonOf(err error) api.Reason {
	switch {
	case errors.Is(err, ErrShutdown):
		return api.ShuttingDown
	case errors.Is(err, ErrProfileNotFound):
		return api.ProfileNotFound
	case errors.Is(err, errInvalidConfig):
		return api.InvalidConfig
	case errors.Is(err, ErrLoginTimeout):
		return api.LoginTimeout
	case errors.Is(err, ErrLoginRequired), errors.Is(err, flow.ErrInvalidGrant) && !errors.Is(err, flow.ErrLoginFailed):
		return api.LoginRequired
	case errors.Is(err, flow.ErrLoginFailed):
		return api.LoginFailed
	case errors.Is(err, flow.ErrUnavailable):
		return api.IDPUnavailable
	case errors.Is(err, store.ErrLocked):
		return api.KeyringLocked
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrTimeout), errors.Is(err, store.ErrNoPassphrase), errors.Is(err, store.ErrCorrupt):
		return api.KeyringUnavailable
	case errors.Is(err, ErrTokenLifetime):
		return api.TokenLifetime
	case errors.Is(err, ErrInvalidRequest):
		return api.InvalidRequest
	}
	return api.Unspecified
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
