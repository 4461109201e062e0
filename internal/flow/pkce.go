package flow

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/regularfile"
	"authd.dev/authd/internal/socket"
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
	tcp, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.profile.RedirectPort)))
	if err != nil {
		return nil, fmt.Errorf("start loopback redirect server: %w", err)
	}
	ln := &sameUserListener{Listener: tcp, uid: os.Getuid(), log: loggerFrom(ctx)}
	host := tcp.Addr().String() // 127.0.0.1:PORT
	path := redirectPath(c.profile.RedirectPath)
	redirectURI := "http://" + host + path

	verifier := oauth2.GenerateVerifier()
	state, nonce := randomString(), randomString()
	conf := c.oauth2Config(ep, redirectURI, c.profile.Scopes)
	authOpts := append(c.authParams(), oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))
	authURL := conf.AuthCodeURL(state, authOpts...)

	// The code is exchanged by the same token request as a refresh, so
	// that one parser (expires_in, error texts, no redirects) reads every
	// token response.
	exchange := url.Values{"grant_type": {"authorization_code"}, "redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	if c.profile.AuthParamsInTokenRequest {
		for k, v := range c.profile.ExtraAuthParams {
			exchange.Set(k, v)
		}
		if c.profile.Audience != "" {
			exchange.Set("audience", c.profile.Audience)
		}
	}
	cb := &callback{
		state: state,
		host:  host,
		path:  path,
		redeem: func(rctx context.Context, code string) (*Token, error) {
			form := maps.Clone(exchange)
			form.Set("code", code)
			t, err := c.postToken(rctx, ep, form)
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
	// A browser redirect carries a short query: 64 KiB is plenty.
	srv := &http.Server{Handler: cb, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10, BaseContext: func(net.Listener) context.Context { return ctx }}
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
		if success, err = parsePage("success_html", f); err != nil {
			return nil, nil, err
		}
	}
	if f := c.profile.FailureHTML; f != "" {
		if failure, err = parsePage("failure_html", f); err != nil {
			return nil, nil, err
		}
	}
	return success, failure, nil
}

// parsePage reads a page template through regularfile.Read: a FIFO or
// /dev/zero named in the config must not hang or grow the daemon.
func parsePage(key, path string) (*template.Template, error) {
	b, err := regularfile.Read(path, config.MaxFileSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	t, err := template.New(key).Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return t, nil
}

func redirectPath(p string) string {
	if p == "" {
		return "/callback"
	}
	return p
}

type loggerKey struct{}

// WithLogger returns a context whose logins report to log what they ignore,
// such as a connection to the redirect port from another user.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

func loggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}

// sameUserListener drops connections from other local users before a byte
// of them is read: any local process can reach the loopback port, and only
// the user's own browser has business there. Where the owner cannot be
// found out (other systems), the state and PKCE guard the login alone.
type sameUserListener struct {
	net.Listener
	uid int
	log *slog.Logger
}

func (l *sameUserListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		uid, err := socket.LoopbackPeerUID(c)
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			return c, nil
		case err != nil:
			l.log.Warn("login callback: refused a connection whose owner is unknown", "remote", c.RemoteAddr().String(), "err", err)
		case uid != l.uid:
			l.log.Warn("login callback: refused a connection from another user", "remote", c.RemoteAddr().String(), "uid", uid)
		default:
			return c, nil
		}
		c.Close()
	}
}

type callbackResult struct {
	token *Token
	err   error
}

// callback serves the loopback redirect. Only the request that carries the
// login's state decides the login, once: anything else that reaches the
// port (a stale tab, a forged request, a page that rebinds a DNS name to
// 127.0.0.1) is answered and ignored, so it cannot end the login.
type callback struct {
	state   string
	host    string // 127.0.0.1:PORT, as the redirect URI names it
	path    string
	redeem  func(context.Context, string) (*Token, error)
	profile string
	success *template.Template
	failure *template.Template
	result  chan callbackResult

	mu   sync.Mutex
	done bool
}

var (
	errWrongHost    = errors.New("this page was reached under another host name; start the login again from your terminal")
	errLoginOver    = errors.New("this login has already finished; start a new one from your terminal")
	errNoSuchMethod = errors.New("only GET is served here")
)

func (cb *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The path is compared as a string: a ServeMux pattern built from the
	// configured path would be parsed, and could panic.
	if r.URL.Path != cb.path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		cb.renderStatus(w, http.StatusMethodNotAllowed, nil, errNoSuchMethod)
		return
	}
	if r.Host != cb.host {
		cb.render(w, nil, errWrongHost)
		return
	}
	q := r.URL.Query()
	if got := q["state"]; len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(cb.state)) != 1 {
		cb.render(w, nil, ErrStateMismatch)
		return
	}
	cb.mu.Lock()
	over := cb.done
	cb.done = true
	cb.mu.Unlock()
	if over {
		cb.render(w, nil, errLoginOver)
		return
	}
	tok, err := cb.handle(r.Context(), q)
	cb.render(w, tok, err)
	cb.result <- callbackResult{tok, err}
}

func (cb *callback) handle(ctx context.Context, q url.Values) (*Token, error) {
	if code := q.Get("error"); code != "" {
		// Cleaned here, not only when printed: the text also goes into the
		// failure page and into whatever wraps or logs the error.
		return nil, fmt.Errorf("%w: %w", ErrLoginFailed, &ProviderError{
			Op: "authorize", Code: CleanText(code, maxDescriptionLen), Description: CleanText(q.Get("error_description"), maxDescriptionLen)})
	}
	code := q.Get("code")
	if code == "" {
		return nil, fmt.Errorf("%w: the redirect carried no authorization code", ErrLoginFailed)
	}
	return cb.redeem(ctx, code)
}

func (cb *callback) render(w http.ResponseWriter, tok *Token, err error) {
	status := http.StatusOK
	if err != nil {
		status = http.StatusBadRequest
	}
	cb.renderStatus(w, status, tok, err)
}

func (cb *callback) renderStatus(w http.ResponseWriter, status int, tok *Token, err error) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	data := pageData{Profile: cb.profile}
	page := cb.success
	if err != nil {
		data.Error, page = err.Error(), cb.failure
	} else {
		data.Account = tok.Account
	}
	w.WriteHeader(status)
	_ = page.Execute(w, data)
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
