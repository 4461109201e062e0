package server

import (
	"fmt"

	"authd.dev/authd/internal/broker"
	pb "authd.dev/authd/proto/authd/v1"
)

// Bounds on request fields. Real requests are far smaller; nothing a client
// sends should cost the daemon or the provider more than a real one does.
const (
	maxProfileLen    = 128
	maxAudienceLen   = 1024
	maxScopes        = 64
	maxScopeLen      = 256
	maxCredentialLen = 64 << 10
)

// checkProfile bounds a profile name. A name too long is not echoed back:
// the error would carry it to the client's terminal.
func checkProfile(name string) error {
	if len(name) > maxProfileLen {
		return fmt.Errorf("%w: profile name too long (%d bytes)", broker.ErrInvalidRequest, len(name))
	}
	return nil
}

// checkTokenRequest bounds a GetToken request. Repeated scopes count: the
// list is bounded before the broker drops the repeats.
func checkTokenRequest(req *pb.GetTokenRequest) error {
	if err := checkProfile(req.GetProfile()); err != nil {
		return err
	}
	if n := len(req.GetAudience()); n > maxAudienceLen {
		return fmt.Errorf("%w: audience too long (%d bytes, at most %d)", broker.ErrInvalidRequest, n, maxAudienceLen)
	}
	scopes := req.GetScopes()
	if len(scopes) > maxScopes {
		return fmt.Errorf("%w: too many scopes (%d, at most %d)", broker.ErrInvalidRequest, len(scopes), maxScopes)
	}
	for _, sc := range scopes {
		if len(sc) > maxScopeLen {
			return fmt.Errorf("%w: scope too long (%d bytes, at most %d)", broker.ErrInvalidRequest, len(sc), maxScopeLen)
		}
	}
	if n := len(req.GetRejectedToken()); n > maxCredentialLen {
		return fmt.Errorf("%w: rejected token too long (%d bytes, at most %d)", broker.ErrInvalidRequest, n, maxCredentialLen)
	}
	if d := req.GetMinValid(); d != nil && (d.CheckValid() != nil || d.AsDuration() < 0) {
		return fmt.Errorf("%w: min_valid must be a positive duration", broker.ErrInvalidRequest)
	}
	return nil
}

// checkCredentialRequest bounds a SetCredential request.
func checkCredentialRequest(req *pb.SetCredentialRequest) error {
	if err := checkProfile(req.GetProfile()); err != nil {
		return err
	}
	if n := max(len(req.GetAccessToken()), len(req.GetClientSecret())); n > maxCredentialLen {
		return fmt.Errorf("%w: credential too long (%d bytes, at most %d)", broker.ErrInvalidRequest, n, maxCredentialLen)
	}
	return nil
}
