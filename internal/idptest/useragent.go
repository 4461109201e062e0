package idptest

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// ErrLoginRejected is returned by the user-agent helpers ([CompleteLogin],
// [ApproveDevice], ...) when the provider refuses what was typed: a wrong
// username or password, or an unknown, used or expired user code.
var ErrLoginRejected = errors.New("login rejected")

// maxBody bounds what the user-agent helpers read of a page.
const maxBody = 1 << 20

// CompleteLogin plays the browser of an authorization code flow with plain
// HTTP: it opens authURL (built by the client under test for a [Provider]),
// fills the login form with username and password, follows the provider's
// redirects to the client's loopback redirect URI, and returns the status
// and body of the page the client's callback server finally answered.
//
// When the provider redirects to the callback without showing a login form
// (an error such as invalid_scope), that callback page is returned too. A
// refused login is an error wrapping [ErrLoginRejected].
func CompleteLogin(ctx context.Context, authURL, username, password string) (status int, body string, err error) {
	return submitLogin(ctx, authURL, url.Values{"action": {"login"}, "username": {username}, "password": {password}})
}

// DenyLogin is [CompleteLogin] with the cancel button pressed: the provider
// redirects to the callback with error=access_denied and the request's state.
func DenyLogin(ctx context.Context, authURL string) (status int, body string, err error) {
	return submitLogin(ctx, authURL, url.Values{"action": {"deny"}})
}

func submitLogin(ctx context.Context, authURL string, form url.Values) (int, string, error) {
	ua := newUserAgent()
	defer ua.CloseIdleConnections()
	start, err := url.Parse(authURL)
	if err != nil {
		return 0, "", fmt.Errorf("open authorization URL: %w", err)
	}
	page, err := ua.do(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return 0, "", fmt.Errorf("open authorization URL: %w", err)
	}
	if page.url.Host != start.Host {
		return page.status, page.body, nil // already at the client's callback
	}
	if page.url.Path != loginPath || page.status != http.StatusOK {
		return 0, "", fmt.Errorf("open authorization URL: %w", page.problem())
	}
	form.Set("id", page.url.Query().Get("authRequestID"))
	page, err = ua.do(ctx, http.MethodPost, page.url.ResolveReference(&url.URL{Path: loginPath}).String(), form)
	if err != nil {
		return 0, "", fmt.Errorf("submit login form: %w", err)
	}
	if page.url.Host == start.Host {
		return 0, "", fmt.Errorf("submit login form: %w", page.problem())
	}
	return page.status, page.body, nil
}

// ApproveDevice plays the user of a device authorization grant with plain
// HTTP: it opens verificationURI, enters userCode, logs in as username and
// allows the device. The device's next poll then gets its tokens.
func ApproveDevice(ctx context.Context, verificationURI, userCode, username, password string) error {
	return decideDevice(ctx, verificationURI, userCode, username, password, "allow")
}

// DenyDevice is [ApproveDevice] with the deny button pressed: the device's
// next poll gets access_denied.
func DenyDevice(ctx context.Context, verificationURI, userCode, username, password string) error {
	return decideDevice(ctx, verificationURI, userCode, username, password, "deny")
}

func decideDevice(ctx context.Context, verificationURI, userCode, username, password, action string) error {
	ua := newUserAgent()
	defer ua.CloseIdleConnections()
	page, err := ua.do(ctx, http.MethodGet, verificationURI, nil)
	if err != nil {
		return fmt.Errorf("open verification URI: %w", err)
	}
	steps := []struct {
		name string
		path string
		form url.Values
	}{
		{"enter user code", devicePath, url.Values{"user_code": {userCode}}},
		{"log in", deviceLoginPath, url.Values{"user_code": {userCode}, "username": {username}, "password": {password}}},
		{action + " device", deviceConfirmPath, url.Values{"action": {action}}},
	}
	for _, step := range steps {
		if page.status != http.StatusOK {
			return fmt.Errorf("%s: %w", step.name, page.problem())
		}
		target := page.url.ResolveReference(&url.URL{Path: step.path}).String()
		if page, err = ua.do(ctx, http.MethodPost, target, step.form); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
	}
	if page.status != http.StatusOK {
		return fmt.Errorf("%s device: %w", action, page.problem())
	}
	return nil
}

// userAgent is a cookie-keeping HTTP client that follows redirects, like a
// browser without JavaScript.
type userAgent struct{ *http.Client }

func newUserAgent() userAgent {
	jar, _ := cookiejar.New(nil) // never fails without options
	// Loopback only: no proxy, whatever the environment says.
	return userAgent{&http.Client{Jar: jar, Transport: &http.Transport{}}}
}

// page is where a request ended up after redirects.
type page struct {
	url    *url.URL
	status int
	body   string
}

func (ua userAgent) do(ctx context.Context, method, target string, form url.Values) (*page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := ua.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", resp.Request.URL.Redacted(), err)
	}
	return &page{url: resp.Request.URL, status: resp.StatusCode, body: string(b)}, nil
}

var errorElement = regexp.MustCompile(`(?s)<p id="error"[^>]*>(.*?)</p>`)

// problem describes a provider page that is not the expected next step.
func (p *page) problem() error {
	msg := ""
	if m := errorElement.FindStringSubmatch(p.body); m != nil {
		msg = strings.TrimSpace(html.UnescapeString(m[1]))
	}
	switch {
	case msg != "" && strings.Contains(p.body, "<form"):
		// A form shown again with a message: what was typed was refused.
		return fmt.Errorf("%w: %s", ErrLoginRejected, msg)
	case msg != "":
		return fmt.Errorf("provider answered %d at %s: %s", p.status, p.url.Path, msg)
	}
	snippet := strings.TrimSpace(p.body)
	if len(snippet) > 200 {
		snippet = snippet[:200] + "..."
	}
	return fmt.Errorf("provider answered %d at %s: %s", p.status, p.url.Path, snippet)
}
