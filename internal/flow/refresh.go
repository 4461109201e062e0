package flow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"

	"golang.org/x/oauth2"
)

// RefreshRequest asks for a new access token from a refresh token.
type RefreshRequest struct {
	RefreshToken string
	Scopes       []string // empty: the grant's scopes; otherwise a subset (down-scoped token)
	Audience     string   // empty: the profile's audience
}

// Refresh redeems a refresh token. When the provider rotates refresh tokens
// the result carries the new one; otherwise RefreshToken is the one passed in.
// x/oauth2's refresh cannot send scope or audience, so the token request is
// made here, with the same client authentication and error decoding.
func (c *Client) Refresh(ctx context.Context, req RefreshRequest) (*Token, error) {
	ep, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {req.RefreshToken}}
	if len(req.Scopes) > 0 {
		form.Set("scope", strings.Join(req.Scopes, " "))
	}
	if aud := or(req.Audience, c.profile.Audience); aud != "" {
		form.Set("audience", aud)
	}
	t, err := c.postToken(ctx, ep, form)
	if err != nil {
		return nil, classify("refresh", err)
	}
	if t.RefreshToken == "" {
		t.RefreshToken = req.RefreshToken
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = c.profile.Scopes
	}
	return c.tokenFrom(ctx, ep, t, scopes, "")
}

// postToken makes a token request and decodes the answer the way x/oauth2 does,
// returning *oauth2.RetrieveError for error responses.
func (c *Client) postToken(ctx context.Context, ep *endpoints, form url.Values) (*oauth2.Token, error) {
	return c.postTokenAs(ctx, ep, form, c.profile.ClientSecret)
}

// postTokenAs is postToken with the given client secret.
func (c *Client) postTokenAs(ctx context.Context, ep *endpoints, form url.Values, secret string) (*oauth2.Token, error) {
	r, err := c.formRequest(ctx, ep.TokenURL, form, secret)
	if err != nil {
		return nil, err
	}
	r.Header.Set("Accept", "application/json")
	// Go's transport sends a POST again on a new connection only when
	// nothing of it was written; past that point a failure leaves the
	// provider's answer in doubt, which the caller must know.
	var wrote atomic.Bool
	r = r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }}))
	resp, err := c.http.Do(r)
	if err != nil {
		if wrote.Load() {
			return nil, unanswered{err}
		}
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		err = fmt.Errorf("read token response: %w", err)
		if resp.StatusCode/100 == 2 {
			return nil, unanswered{err} // the tokens may be in what was lost
		}
		return nil, err
	}
	var tr struct {
		AccessToken      string          `json:"access_token"`
		TokenType        string          `json:"token_type"`
		RefreshToken     string          `json:"refresh_token"`
		ExpiresIn        json.RawMessage `json:"expires_in"` // read by seconds, whatever its type
		RefreshIn        json.RawMessage `json:"refresh_in"`
		Scope            string          `json:"scope"`
		IDToken          string          `json:"id_token"`
		Error            string          `json:"error"`
		ErrorDescription string          `json:"error_description"`
		ErrorURI         string          `json:"error_uri"`
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	jsonErr := json.Unmarshal(data, &tr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 || tr.Error != "" {
		// Cleaned where read; classify cleans again for x/oauth2's errors.
		return nil, &oauth2.RetrieveError{Response: resp,
			ErrorCode:        CleanText(tr.Error, maxCodeLen),
			ErrorDescription: CleanText(tr.ErrorDescription, maxDescriptionLen),
			ErrorURI:         CleanText(tr.ErrorURI, maxLocationLen)}
	}
	if jsonErr != nil {
		return nil, fmt.Errorf("token response (%s) is not JSON: %w", CleanText(mt, maxCodeLen), cleanErr(jsonErr))
	}
	t := &oauth2.Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, RefreshToken: tr.RefreshToken}
	extra := map[string]any{}
	if tr.Scope != "" {
		extra["scope"] = tr.Scope
	}
	if tr.IDToken != "" {
		extra["id_token"] = tr.IDToken
	}
	if v := rawNumber(tr.ExpiresIn); v != nil {
		extra["expires_in"] = v
	}
	if v := rawNumber(tr.RefreshIn); v != nil {
		extra["refresh_in"] = v
	}
	return t.WithExtra(extra), nil
}

// unanswered is a token request's failure that is [ErrUnanswered], with
// the text of the transport's error.
type unanswered struct{ error }

func (e unanswered) Unwrap() error        { return e.error }
func (e unanswered) Is(target error) bool { return target == ErrUnanswered }

// rawNumber is a JSON value as seconds reads it: a json.Number for a
// number, a string for a string, nil for anything else.
func rawNumber(raw json.RawMessage) any {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if len(raw) == 0 || d.Decode(&v) != nil {
		return nil
	}
	switch v.(type) {
	case json.Number, string:
		return v
	}
	return nil
}

// formRequest builds a form POST authenticated as the client: public
// clients (no secret) send their client_id in the body, confidential ones
// use HTTP Basic authentication.
func (c *Client) formRequest(ctx context.Context, endpoint string, form url.Values, secret string) (*http.Request, error) {
	if secret == "" {
		form.Set("client_id", c.profile.ClientID)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	if secret != "" {
		r.SetBasicAuth(url.QueryEscape(c.profile.ClientID), url.QueryEscape(secret))
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r, nil
}

// Revoke asks the provider to revoke a token (RFC 7009). It reports whether
// the provider offers revocation at all.
func (c *Client) Revoke(ctx context.Context, token, hint string) (bool, error) {
	ep, err := c.discover(ctx)
	if err != nil {
		return false, err
	}
	if ep.revocation == "" {
		return false, nil
	}
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	r, err := c.formRequest(ctx, ep.revocation, form, c.profile.ClientSecret)
	if err != nil {
		return true, err
	}
	resp, err := c.http.Do(r)
	if err != nil {
		return true, classifyTransport("revoke", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return true, &ProviderError{Op: "revoke", StatusCode: resp.StatusCode}
	}
	return true, nil
}
