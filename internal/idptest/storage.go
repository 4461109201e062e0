// Portions of this file are adapted from github.com/zitadel/oidc/v3
// example/server/storage (storage.go, oidc.go, token.go), v3.48.1,
// Copyright the zitadel/oidc authors, licensed under the Apache License,
// Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
// Changes: users keyed by username, refresh token rotation with reuse
// detection that revokes the whole grant, PKCE S256 only, configurable
// lifetimes, one-time device codes, no JWT profile or token exchange.

package idptest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

var (
	_ op.Storage                    = (*storage)(nil)
	_ op.ClientCredentialsStorage   = (*storage)(nil)
	_ op.DeviceAuthorizationStorage = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest  = (*storage)(nil)
)

// Reasons a refresh token is refused; op turns each into invalid_grant.
var (
	errRefreshTokenUnknown = errors.New("refresh token unknown or revoked")
	errRefreshTokenExpired = errors.New("refresh token expired")
	errRefreshTokenReused  = errors.New("rotated refresh token reused: grant revoked")
)

// lifetimes are the token lifetimes of [Options] after defaults.
type lifetimes struct {
	accessToken  time.Duration
	refreshToken time.Duration
	reuseGrace   time.Duration
	slowDown     time.Duration // see Options.DeviceSlowDownBelow
}

// rotation remembers a rotated-out refresh token.
type rotation struct {
	grantID string
	at      time.Time
	old     refreshToken // as it was, for reuse within the grace period
}

// storage is the in-memory op.Storage of a [Provider].
type storage struct {
	lifetimes  lifetimes
	signingKey *signingKey
	users      map[string]User // by username, which is also the user ID
	clients    map[string]*client

	mu            sync.Mutex
	authRequests  map[string]*authRequest
	codes         map[string]string // code -> auth request ID
	accessTokens  map[string]*accessToken
	refreshTokens map[string]*refreshToken // live tokens, by value
	rotated       map[string]rotation      // rotated-out refresh token -> its grant
	deviceCodes   map[string]*deviceEntry
	userCodes     map[string]string // user code -> device code
	slowDowns     int               // slow_down answers given
}

func newStorage(users []User, clients []*client, lt lifetimes) (*storage, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	s := &storage{
		lifetimes:     lt,
		signingKey:    &signingKey{id: rand.Text(), algorithm: jose.RS256, key: key},
		users:         make(map[string]User, len(users)),
		clients:       make(map[string]*client, len(clients)),
		authRequests:  make(map[string]*authRequest),
		codes:         make(map[string]string),
		accessTokens:  make(map[string]*accessToken),
		refreshTokens: make(map[string]*refreshToken),
		rotated:       make(map[string]rotation),
		deviceCodes:   make(map[string]*deviceEntry),
		userCodes:     make(map[string]string),
	}
	for _, u := range users {
		if u.Username == "" {
			return nil, errors.New("user with empty username")
		}
		if _, dup := s.users[u.Username]; dup {
			return nil, fmt.Errorf("duplicate user %q", u.Username)
		}
		s.users[u.Username] = u
	}
	for _, c := range clients {
		s.clients[c.id] = c
	}
	return s, nil
}

// accessToken is the stored form of an issued access token.
type accessToken struct {
	id       string
	clientID string
	subject  string
	grantID  string // refresh token family; empty when none was issued
	audience []string
	scopes   []string
	expiry   time.Time
}

// refreshToken is a live refresh token. Every refresh token issued from one
// authorization shares a grantID, so reuse of a rotated token can revoke them all.
type refreshToken struct {
	token         string
	grantID       string
	clientID      string
	subject       string
	audience      []string
	scopes        []string // the scopes granted at login; down-scoped refreshes keep them
	amr           []string
	authTime      time.Time
	expiry        time.Time
	accessTokenID string
}

// checkPassword reports whether username and password name a known user.
func (s *storage) checkPassword(username, password string) error {
	u, ok := s.users[username]
	if !ok || u.Password != password {
		return errors.New("wrong username or password")
	}
	return nil
}

// completeLogin marks the auth request id as authenticated by username.
func (s *storage) completeLogin(id, username, password string) error {
	if err := s.checkPassword(username, password); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[id]
	if !ok {
		return errors.New("login request not found or already used")
	}
	req.userID = username
	req.done = true
	req.authTime = time.Now()
	return nil
}

// takeAuthRequest removes and returns the auth request id (for a denied login).
func (s *storage) takeAuthRequest(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[id]
	if !ok {
		return nil, errors.New("login request not found or already used")
	}
	s.deleteAuthRequestLocked(id)
	return req, nil
}

// authRequestInfo returns the client and scopes of auth request id, for the login page.
func (s *storage) authRequestInfo(id string) (clientID string, scopes []string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[id]
	if !ok {
		return "", nil, false
	}
	return req.clientID, slices.Clone(req.scopes), true
}

// CreateAuthRequest implements op.Storage.
func (s *storage) CreateAuthRequest(_ context.Context, authReq *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	if slices.Contains(authReq.Prompt, oidc.PromptNone) {
		// There are no sessions here, so the user can never be logged in already.
		return nil, oidc.ErrLoginRequired()
	}
	if authReq.CodeChallenge != "" && authReq.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	req := &authRequest{
		id:           rand.Text(),
		clientID:     authReq.ClientID,
		redirectURI:  authReq.RedirectURI,
		state:        authReq.State,
		nonce:        authReq.Nonce,
		scopes:       slices.Clone(authReq.Scopes),
		responseType: authReq.ResponseType,
		responseMode: authReq.ResponseMode,
		userID:       userID,
	}
	if authReq.CodeChallenge != "" {
		req.codeChallenge = &oidc.CodeChallenge{Challenge: authReq.CodeChallenge, Method: authReq.CodeChallengeMethod}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authRequests[req.id] = req
	return req, nil
}

// AuthRequestByID implements op.Storage.
func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[id]
	if !ok {
		return nil, errors.New("auth request not found")
	}
	return req, nil
}

// AuthRequestByCode implements op.Storage.
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.authRequests[s.codes[code]]
	if !ok {
		return nil, errors.New("code invalid or already used")
	}
	return req, nil
}

// SaveAuthCode implements op.Storage.
func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest implements op.Storage.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteAuthRequestLocked(id)
	return nil
}

func (s *storage) deleteAuthRequestLocked(id string) {
	delete(s.authRequests, id)
	for code, reqID := range s.codes {
		if reqID == id {
			delete(s.codes, code)
		}
	}
}

// tokenRequestInfo is what every token request op hands to storage can tell.
type tokenRequestInfo interface {
	op.TokenRequest
	GetClientID() string
}

// CreateAccessToken implements op.Storage.
func (s *storage) CreateAccessToken(_ context.Context, request op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := s.newAccessTokenLocked(clientIDOf(request), "", request)
	return at.id, at.expiry, nil
}

func clientIDOf(request op.TokenRequest) string {
	if r, ok := request.(tokenRequestInfo); ok {
		return r.GetClientID()
	}
	return ""
}

func (s *storage) newAccessTokenLocked(clientID, grantID string, request op.TokenRequest) *accessToken {
	at := &accessToken{
		id:       rand.Text(),
		clientID: clientID,
		subject:  request.GetSubject(),
		grantID:  grantID,
		audience: slices.Clone(request.GetAudience()),
		scopes:   slices.Clone(request.GetScopes()),
		expiry:   time.Now().Add(s.lifetimes.accessToken),
	}
	s.accessTokens[at.id] = at
	return at
}

// CreateAccessAndRefreshTokens implements op.Storage. With an empty
// currentRefreshToken it starts a new grant; otherwise it rotates
// currentRefreshToken: the old token stops working, and presenting it again
// revokes the whole grant.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, request op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if currentRefreshToken == "" {
		var amr []string
		var authTime time.Time
		if r, ok := request.(op.IDTokenRequest); ok {
			amr, authTime = r.GetAMR(), r.GetAuthTime()
		}
		grantID := rand.Text()
		at := s.newAccessTokenLocked(clientIDOf(request), grantID, request)
		rt := &refreshToken{
			token:         rand.Text(),
			grantID:       grantID,
			clientID:      at.clientID,
			subject:       at.subject,
			audience:      at.audience,
			scopes:        at.scopes,
			amr:           amr,
			authTime:      authTime,
			expiry:        time.Now().Add(s.lifetimes.refreshToken),
			accessTokenID: at.id,
		}
		s.refreshTokens[rt.token] = rt
		return at.id, rt.token, at.expiry, nil
	}

	old, ok := s.refreshTokens[currentRefreshToken]
	if !ok {
		// Two refreshes raced with the same token and the other one won.
		r, wasRotated := s.rotated[currentRefreshToken]
		switch {
		case wasRotated && s.withinGraceLocked(r):
			old = &r.old
		case wasRotated:
			s.revokeGrantLocked(r.grantID)
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithParent(errRefreshTokenReused)
		default:
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithParent(errRefreshTokenUnknown)
		}
	} else {
		delete(s.refreshTokens, currentRefreshToken)
		s.rotated[currentRefreshToken] = rotation{grantID: old.grantID, at: time.Now(), old: *old}
	}

	at := s.newAccessTokenLocked(old.clientID, old.grantID, request)
	rt := *old
	rt.token = rand.Text()
	rt.expiry = time.Now().Add(s.lifetimes.refreshToken)
	rt.accessTokenID = at.id
	s.refreshTokens[rt.token] = &rt
	return at.id, rt.token, at.expiry, nil
}

// withinGraceLocked reports whether a rotated-out token may still be
// redeemed, and only while its grant is alive.
func (s *storage) withinGraceLocked(r rotation) bool {
	if s.lifetimes.reuseGrace <= 0 || time.Since(r.at) > s.lifetimes.reuseGrace {
		return false
	}
	for _, live := range s.refreshTokens {
		if live.grantID == r.grantID {
			return true
		}
	}
	return false
}

// revokeGrantLocked ends every refresh and access token of one grant.
func (s *storage) revokeGrantLocked(grantID string) {
	for token, rt := range s.refreshTokens {
		if rt.grantID == grantID {
			delete(s.refreshTokens, token)
		}
	}
	for id, at := range s.accessTokens {
		if at.grantID == grantID {
			delete(s.accessTokens, id)
		}
	}
}

// revokeAllRefreshTokens forgets every live refresh token.
func (s *storage) revokeAllRefreshTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.refreshTokens)
}

// TokenRequestByRefreshToken implements op.Storage. A rotated-out token
// revokes its grant here, before op validates anything else.
func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok {
		r, wasRotated := s.rotated[token]
		switch {
		case wasRotated && s.withinGraceLocked(r):
			rt = &r.old
		case wasRotated:
			s.revokeGrantLocked(r.grantID)
			return nil, errRefreshTokenReused
		default:
			return nil, errRefreshTokenUnknown
		}
	}
	if time.Now().After(rt.expiry) {
		delete(s.refreshTokens, token)
		return nil, errRefreshTokenExpired
	}
	// A copy: op narrows its scopes for a down-scoped request, and the
	// grant's own scopes must survive that.
	return &refreshRequest{
		clientID: rt.clientID,
		subject:  rt.subject,
		audience: slices.Clone(rt.audience),
		scopes:   slices.Clone(rt.scopes),
		amr:      slices.Clone(rt.amr),
		authTime: rt.authTime,
	}, nil
}

// TerminateSession implements op.Storage.
func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for token, rt := range s.refreshTokens {
		if rt.subject == userID && rt.clientID == clientID {
			delete(s.refreshTokens, token)
		}
	}
	for id, at := range s.accessTokens {
		if at.subject == userID && at.clientID == clientID {
			delete(s.accessTokens, id)
		}
	}
	return nil
}

// GetRefreshTokenInfo implements op.Storage.
func (s *storage) GetRefreshTokenInfo(_ context.Context, _, token string) (userID, tokenID string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return rt.subject, rt.token, nil
}

// RevokeToken implements op.Storage (RFC 7009). Revoking a refresh token
// revokes its whole grant, access tokens included.
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.accessTokens[tokenOrID]; ok {
		if at.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.accessTokens, tokenOrID)
		return nil
	}
	if rt, ok := s.refreshTokens[tokenOrID]; ok {
		if rt.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		s.revokeGrantLocked(rt.grantID)
	}
	// Unknown tokens count as revoked (RFC 7009 section 2.2).
	return nil
}

// SigningKey implements op.Storage.
func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.signingKey, nil }

// SignatureAlgorithms implements op.Storage.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{s.signingKey.algorithm}, nil
}

// KeySet implements op.Storage.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{&publicKey{s.signingKey}}, nil
}

// GetClientByClientID implements op.Storage.
func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("client %q not found", clientID)
	}
	if len(c.redirectURIGlobs) > 0 {
		return redirectGlobClient{c}, nil
	}
	return c, nil
}

// AuthorizeClientIDSecret implements op.Storage.
func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, clientSecret string) error {
	c, ok := s.clients[clientID]
	if !ok || c.secret == "" || c.secret != clientSecret {
		return oidc.ErrInvalidClient().WithDescription("wrong client_id or client_secret")
	}
	return nil
}

// ClientCredentials implements op.ClientCredentialsStorage.
func (s *storage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	if err := s.AuthorizeClientIDSecret(ctx, clientID, clientSecret); err != nil {
		return nil, err
	}
	return s.GetClientByClientID(ctx, clientID)
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage.
func (s *storage) ClientCredentialsTokenRequest(_ context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	return &clientCredentialsRequest{clientID: clientID, scopes: scopes}, nil
}

// SetUserinfoFromScopes implements op.Storage; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest (ID token claims).
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, request op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, request.GetSubject(), scopes)
}

// SetUserinfoFromToken implements op.Storage (the userinfo endpoint).
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	s.mu.Lock()
	at, ok := s.accessTokens[tokenID]
	s.mu.Unlock()
	if !ok || time.Now().After(at.expiry) {
		return errors.New("access token invalid, revoked or expired")
	}
	return s.setUserinfo(info, at.subject, at.scopes)
}

// SetIntrospectionFromToken implements op.Storage.
func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	at, ok := s.accessTokens[tokenID]
	s.mu.Unlock()
	if !ok || time.Now().After(at.expiry) {
		return errors.New("access token invalid, revoked or expired")
	}
	if !slices.Contains(at.audience, clientID) {
		return errors.New("access token not valid for this client")
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, subject, at.scopes); err == nil {
		resp.SetUserInfo(info)
	}
	resp.Scope = at.scopes
	resp.ClientID = at.clientID
	resp.Expiration = oidc.FromTime(at.expiry)
	return nil
}

func (s *storage) setUserinfo(info *oidc.UserInfo, userID string, scopes []string) error {
	u, ok := s.users[userID]
	if !ok {
		return fmt.Errorf("user %q not found", userID)
	}
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeOpenID:
			info.Subject = u.Username
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(u.Email != "")
		case oidc.ScopeProfile:
			info.Name = u.Name
			info.PreferredUsername = u.Username
		}
	}
	return nil
}

// GetPrivateClaimsFromScopes implements op.Storage.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID implements op.Storage; the JWT profile grant is not offered.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("jwt profile not supported")
}

// ValidateJWTProfileScopes implements op.Storage; the JWT profile grant is not offered.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("jwt profile not supported")
}

// Health implements op.Storage.
func (s *storage) Health(context.Context) error { return nil }

// deviceEntry is one device authorization (RFC 8628).
type deviceEntry struct {
	userCode string
	state    *op.DeviceAuthorizationState
	lastPoll time.Time
}

// StoreDeviceAuthorization implements op.DeviceAuthorizationStorage.
func (s *storage) StoreDeviceAuthorization(_ context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	if _, ok := s.clients[clientID]; !ok {
		return fmt.Errorf("client %q not found", clientID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.userCodes[userCode]; ok {
		return op.ErrDuplicateUserCode
	}
	s.deviceCodes[deviceCode] = &deviceEntry{
		userCode: userCode,
		state:    &op.DeviceAuthorizationState{ClientID: clientID, Scopes: scopes, Expires: expires},
	}
	s.userCodes[userCode] = deviceCode
	return nil
}

// GetDeviceAuthorizatonState implements op.DeviceAuthorizationStorage. A
// finished authorization is handed out once: the device code is then spent.
func (s *storage) GetDeviceAuthorizatonState(ctx context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	entry, ok := s.deviceCodes[deviceCode]
	if !ok || entry.state.ClientID != clientID {
		return nil, errors.New("device code not found for client")
	}
	now := time.Now()
	tooSoon := s.lifetimes.slowDown > 0 && !entry.lastPoll.IsZero() && now.Sub(entry.lastPoll) < s.lifetimes.slowDown
	entry.lastPoll = now
	if tooSoon {
		s.slowDowns++
		// op answers slow_down to a deadline error.
		return nil, fmt.Errorf("polling too fast: %w", context.DeadlineExceeded)
	}
	state := *entry.state
	if state.Done || state.Denied {
		delete(s.deviceCodes, deviceCode)
		delete(s.userCodes, entry.userCode)
	}
	return &state, nil
}

// normalizeUserCode accepts what a person types: any case, surrounding space.
func normalizeUserCode(code string) string {
	return strings.ToUpper(strings.TrimSpace(code))
}

// pendingDevice returns the still-pending authorization of userCode.
func (s *storage) pendingDevice(userCode string) (op.DeviceAuthorizationState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	entry, ok := s.deviceCodes[s.userCodes[normalizeUserCode(userCode)]]
	switch {
	case !ok:
		return op.DeviceAuthorizationState{}, errors.New("unknown code")
	case entry.state.Done || entry.state.Denied:
		return op.DeviceAuthorizationState{}, errors.New("code already used")
	case time.Now().After(entry.state.Expires):
		return op.DeviceAuthorizationState{}, errors.New("code expired")
	}
	return *entry.state, nil
}

// finishDevice records the user's decision on the authorization of userCode.
func (s *storage) finishDevice(userCode, username string, allow bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	entry, ok := s.deviceCodes[s.userCodes[normalizeUserCode(userCode)]]
	if !ok || entry.state.Done || entry.state.Denied || time.Now().After(entry.state.Expires) {
		return errors.New("unknown, used or expired code")
	}
	if !allow {
		entry.state.Denied = true
		return nil
	}
	entry.state.Subject = username
	entry.state.AMR = []string{"pwd"}
	entry.state.AuthTime = time.Now()
	entry.state.Done = true
	return nil
}

// authRequest implements op.AuthRequest.
type authRequest struct {
	id            string
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge

	userID   string
	done     bool
	authTime time.Time
}

func (a *authRequest) GetID() string  { return a.id }
func (a *authRequest) GetACR() string { return "" }
func (a *authRequest) GetClientID() string {
	return a.clientID
}
func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.userID }
func (a *authRequest) Done() bool                            { return a.done }

// refreshRequest implements op.RefreshTokenRequest.
type refreshRequest struct {
	clientID string
	subject  string
	audience []string
	scopes   []string
	amr      []string
	authTime time.Time
}

func (r *refreshRequest) GetAMR() []string                 { return r.amr }
func (r *refreshRequest) GetAudience() []string            { return r.audience }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshRequest) GetClientID() string              { return r.clientID }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.subject }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

// clientCredentialsRequest implements op.TokenRequest for client_credentials;
// the client is its own subject.
type clientCredentialsRequest struct {
	clientID string
	scopes   []string
}

func (r *clientCredentialsRequest) GetSubject() string    { return r.clientID }
func (r *clientCredentialsRequest) GetAudience() []string { return []string{r.clientID} }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }
func (r *clientCredentialsRequest) GetClientID() string   { return r.clientID }

// signingKey implements op.SigningKey.
type signingKey struct {
	id        string
	algorithm jose.SignatureAlgorithm
	key       *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.algorithm }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey implements op.Key for the JWKS.
type publicKey struct{ k *signingKey }

func (k *publicKey) ID() string                         { return k.k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return k.k.algorithm }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return &k.k.key.PublicKey }
