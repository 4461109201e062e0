package flow

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ErrStateMismatch means the browser came back with another login's state:
// a stale tab, or a forged request.
var ErrStateMismatch = errors.New("the browser returned with a state that does not belong to this login")

//go:embed pages/*.html
var pages embed.FS

var defaultPages = template.Must(template.ParseFS(pages, "pages/*.html"))

// pageData is what the success and failure templates see.
type pageData struct {
	Profile string
	Account string
	Error   string
}

// PKCELogin runs the authorization-code flow with PKCE on a loopback
// redirect server. open receives the URL the user must visit; it must not
// block. PKCELogin returns when the browser came back and the code was
// exchanged and verified, or when ctx ends.
func (c *Client) PKCELogin(ctx context.Context, open func(authURL, redirectURI string)) (*Token, error) {
	ep, err := c.discover(ctx)
	if err != nil {
		return nil, err
	}
	if ep.AuthURL == "" {
		return nil, fmt.Errorf("profile %s: the provider has no authorization endpoint", c.profile.Name)
	}
	success, failure, err := c.pageTemplates()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.profile.RedirectPort)))
	if err != nil {
		return nil, fmt.Errorf("start loopback redirect server: %w", err)
	}
	redirectURI := fmt.Sprintf("http://127.0.0.1:%d%s", ln.Addr().(*net.TCPAddr).Port, redirectPath(c.profile.RedirectPath))

	verifier := oauth2.GenerateVerifier()
	state, nonce := randomString(), randomString()
	conf := c.oauth2Config(ep, redirectURI, c.profile.Scopes)
	authOpts := append(c.authParams(), oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	authURL := conf.AuthCodeURL(state, authOpts...)

	exchangeOpts := []oauth2.AuthCodeOption{oauth2.VerifierOption(verifier)}
	if c.profile.AuthParamsInTokenRequest {
		exchangeOpts = append(exchangeOpts, c.authParams()...)
	}
	cb := &callback{
		state: state,
		redeem: func(rctx context.Context, code string) (*Token, error) {
			t, err := conf.Exchange(c.httpContext(rctx), code, exchangeOpts...)
			if err != nil {
				return nil, classify("exchange code", err)
			}
			return c.tokenFrom(rctx, ep, t, c.profile.Scopes, nonce)
		},
		profile: c.profile.Name,
		success: success,
		failure: failure,
		result:  make(chan callbackResult, 1),
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+redirectPath(c.profile.RedirectPath), cb)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		// Let the last page finish writing, then stop listening.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	open(authURL, redirectURI)
	select {
	case r := <-cb.result:
		return r.token, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: no answer from the browser: %w", ErrLoginFailed, context.Cause(ctx))
	}
}

func (c *Client) pageTemplates() (success, failure *template.Template, err error) {
	success, failure = defaultPages.Lookup("success.html"), defaultPages.Lookup("failure.html")
	if f := c.profile.SuccessHTML; f != "" {
		if success, err = template.ParseFiles(f); err != nil {
			return nil, nil, fmt.Errorf("success_html: %w", err)
		}
	}
	if f := c.profile.FailureHTML; f != "" {
		if failure, err = template.ParseFiles(f); err != nil {
			return nil, nil, fmt.Errorf("failure_html: %w", err)
		}
	}
	return success, failure, nil
}

func redirectPath(p string) string {
	if p == "" {
		return "/callback"
	}
	return p
}

type callbackResult struct {
	token *Token
	err   error
}

// callback serves the loopback redirect. The first request that reaches it
// decides the login; later ones are told the login is over.
type callback struct {
	state   string
	redeem  func(context.Context, string) (*Token, error)
	profile string
	success *template.Template
	failure *template.Template
	result  chan callbackResult

	once sync.Once
}

func (cb *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	handled := false
	cb.once.Do(func() {
		handled = true
		tok, err := cb.handle(r)
		cb.render(w, tok, err)
		cb.result <- callbackResult{tok, err}
	})
	if !handled {
		cb.render(w, nil, errors.New("this login has already finished; start a new one from your terminal"))
	}
}

func (cb *callback) handle(r *http.Request) (*Token, error) {
	q := r.URL.Query()
	if q.Get("state") != cb.state {
		return nil, fmt.Errorf("%w: %w", ErrLoginFailed, ErrStateMismatch)
	}
	if code := q.Get("error"); code != "" {
		return nil, fmt.Errorf("%w: %w", ErrLoginFailed, &ProviderError{Op: "authorize", Code: code, Description: q.Get("error_description")})
	}
	code := q.Get("code")
	if code == "" {
		return nil, fmt.Errorf("%w: the redirect carried no authorization code", ErrLoginFailed)
	}
	return cb.redeem(r.Context(), code)
}

func (cb *callback) render(w http.ResponseWriter, tok *Token, err error) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	data := pageData{Profile: cb.profile}
	page := cb.success
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		data.Error, page = err.Error(), cb.failure
	} else {
		data.Account = tok.Account
	}
	_ = page.Execute(w, data)
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
