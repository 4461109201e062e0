package broker

import (
	"context"
	"fmt"
	"strings"
	"time"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/jwt"
	"authd.dev/authd/internal/store"
)

// SetStaticToken stores a token the user hands over (an API key, a CI
// token) as the session's, with its expiry when it is a JWT, and returns
// that expiry (zero: unknown). It replaces the session: a stored token is
// never refreshed.
func (s *Session) SetStaticToken(ctx context.Context, token string) (expiry time.Time, err error) {
	token = strings.TrimSpace(token)
	// A bearer token is printable ASCII (RFC 6750's b64token); anything else
	// would be refused on the way out, or reach a terminal or a header raw.
	if token == "" || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return time.Time{}, fmt.Errorf("%w: the token is empty or has white space, control or non-ASCII characters in it", ErrInvalidRequest)
	}
	rec := &store.Record{
		Issuer: s.profile.Issuer, ClientID: s.profile.ClientID, Source: SourceStatic,
		AccessToken: token, TokenType: "Bearer", IssuedAt: s.clock.Now(),
	}
	if c, ok := jwt.ReadClaims(token); ok {
		rec.Account, rec.Expiry = c.Account, c.Expiry
		if !rec.Expiry.IsZero() && !s.validFor(rec.Expiry, 0) {
			return time.Time{}, fmt.Errorf("%w: the token expired at %s", ErrInvalidRequest, rec.Expiry.Local().Format(time.RFC3339))
		}
	}
	return rec.Expiry, s.replace(ctx, rec)
}

// SetClientSecret stores a client_credentials profile's secret, once the
// provider has accepted it, and returns the expiry of the token it got. A
// secret the provider refuses is a failed login ([flow.ErrLoginFailed]).
func (s *Session) SetClientSecret(ctx context.Context, secret string) (expiry time.Time, err error) {
	if s.profile.Flow != config.FlowClientCredentials {
		return time.Time{}, fmt.Errorf("%w: profile %s is not a client_credentials profile (flow = %q)", ErrInvalidRequest, s.profile.Name, s.profile.Flow)
	}
	if secret = strings.TrimSpace(secret); secret == "" {
		return time.Time{}, fmt.Errorf("%w: the client secret is empty", ErrInvalidRequest)
	}
	rctx, cancel := context.WithTimeout(ctx, s.providerTimeout())
	defer cancel()
	tok, err := s.flow.ClientCredentials(rctx, secret)
	if err != nil {
		return time.Time{}, refusedSecret(fmt.Errorf("profile %s: the provider refused the client secret: %w", s.profile.Name, err))
	}
	rec := s.recordOf(tok, nil)
	rec.Source, rec.ClientSecret, rec.RefreshToken = SourceClientCredentials, secret, ""
	return rec.Expiry, s.replace(ctx, rec)
}

// replace makes rec the session's record, written to the keyring first.
func (s *Session) replace(ctx context.Context, rec *store.Record) error {
	s.redeem.Lock()
	defer s.redeem.Unlock()
	if err := s.load(ctx); err != nil {
		return err
	}
	return s.commit(ctx, rec, false)
}
