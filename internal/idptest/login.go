// Portions of this file are adapted from github.com/zitadel/oidc/v3
// example/server/exampleop (login.go, device.go, templates), v3.48.1,
// Copyright the zitadel/oidc authors, licensed under the Apache License,
// Version 2.0 (http://www.apache.org/licenses/LICENSE-2.0).
// Changes: stable element IDs for browser tests, a deny button that answers
// the client with error=access_denied, server-side device sessions instead
// of securecookie, net/http routing instead of chi.

package idptest

import (
	"bytes"
	"crypto/rand"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Paths of the user-facing pages.
const (
	devicePath        = "/device" // the verification_uri
	deviceLoginPath   = "/device/login"
	deviceConfirmPath = "/device/confirm"
	deviceCookieName  = "idptest_device"
)

var (
	//go:embed templates/*.html
	templateFS embed.FS
	templates  = template.Must(template.ParseFS(templateFS, "templates/*.html"))
)

// loginUI serves the login page of the authorization code flow and the
// verification pages of the device flow.
type loginUI struct {
	storage  *storage
	provider op.OpenIDProvider
	logger   *slog.Logger

	mu       sync.Mutex
	sessions map[string]deviceSession // by cookie value
}

// deviceSession is a device-flow user who logged in but has not yet
// allowed or denied the device.
type deviceSession struct {
	userCode string
	username string
	expires  time.Time
}

func newLoginUI(s *storage, provider op.OpenIDProvider, logger *slog.Logger) *loginUI {
	return &loginUI{storage: s, provider: provider, logger: logger, sessions: make(map[string]deviceSession)}
}

func (l *loginUI) register(mux *http.ServeMux) {
	issuer := op.NewIssuerInterceptor(l.provider.IssuerFromRequest)
	mux.HandleFunc("GET "+loginPath, l.loginPage)
	mux.HandleFunc("POST "+loginPath, issuer.HandlerFunc(l.loginSubmit))
	mux.HandleFunc(devicePath, l.userCodePage)
	mux.HandleFunc("POST "+deviceLoginPath, l.deviceLogin)
	mux.HandleFunc("POST "+deviceConfirmPath, l.deviceConfirm)
}

func (l *loginUI) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		l.logger.Error("render page", "page", name, "error", err)
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (l *loginUI) problem(w http.ResponseWriter, status int, msg string) {
	l.render(w, status, "problem", msg)
}

type loginPageData struct {
	Action   string
	ID       string
	ClientID string
	Scopes   []string
	Username string
	Error    string
}

func (l *loginUI) loginPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("authRequestID")
	clientID, scopes, ok := l.storage.authRequestInfo(id)
	if !ok {
		l.problem(w, http.StatusBadRequest, "login request not found or already used")
		return
	}
	l.render(w, http.StatusOK, "login", loginPageData{Action: loginPath, ID: id, ClientID: clientID, Scopes: scopes})
}

func (l *loginUI) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		l.problem(w, http.StatusBadRequest, "parse form: "+err.Error())
		return
	}
	id := r.PostForm.Get("id")
	if r.PostForm.Get("action") == "deny" {
		l.denyLogin(w, r, id)
		return
	}
	username := r.PostForm.Get("username")
	if err := l.storage.completeLogin(id, username, r.PostForm.Get("password")); err != nil {
		clientID, scopes, ok := l.storage.authRequestInfo(id)
		if !ok {
			l.problem(w, http.StatusBadRequest, err.Error())
			return
		}
		l.render(w, http.StatusUnauthorized, "login", loginPageData{
			Action: loginPath, ID: id, ClientID: clientID, Scopes: scopes, Username: username, Error: err.Error(),
		})
		return
	}
	l.logger.Debug("login", "user", username)
	http.Redirect(w, r, op.AuthCallbackURL(l.provider)(r.Context(), id), http.StatusFound)
}

// denyLogin answers the client's redirect URI with error=access_denied, as
// a provider does when the user cancels or refuses consent.
func (l *loginUI) denyLogin(w http.ResponseWriter, r *http.Request, id string) {
	req, err := l.storage.takeAuthRequest(id)
	if err != nil {
		l.problem(w, http.StatusBadRequest, err.Error())
		return
	}
	e := oidc.ErrAccessDenied().WithDescription("the user cancelled the login")
	e.State = req.state
	target, err := op.AuthResponseURL(req.redirectURI, req.responseType, req.responseMode, e, l.provider.Encoder())
	if err != nil {
		l.problem(w, http.StatusInternalServerError, "build redirect: "+err.Error())
		return
	}
	l.logger.Debug("login denied", "client", req.clientID)
	http.Redirect(w, r, target, http.StatusFound)
}

type devicePageData struct {
	Action   string
	UserCode string
	ClientID string
	Scopes   []string
	Username string
	Error    string
	Result   string
}

// userCodePage asks for the user code, or with a user_code parameter (from
// verification_uri_complete or the code form) goes on to the login form.
func (l *loginUI) userCodePage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		l.problem(w, http.StatusBadRequest, "parse form: "+err.Error())
		return
	}
	code := r.Form.Get("user_code")
	if code == "" {
		l.render(w, http.StatusOK, "usercode", devicePageData{Action: devicePath})
		return
	}
	state, err := l.storage.pendingDevice(code)
	if err != nil {
		l.render(w, http.StatusBadRequest, "usercode", devicePageData{Action: devicePath, UserCode: code, Error: err.Error()})
		return
	}
	l.render(w, http.StatusOK, "device_login", devicePageData{
		Action: deviceLoginPath, UserCode: normalizeUserCode(code), ClientID: state.ClientID,
	})
}

func (l *loginUI) deviceLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		l.problem(w, http.StatusBadRequest, "parse form: "+err.Error())
		return
	}
	code := normalizeUserCode(r.PostForm.Get("user_code"))
	state, err := l.storage.pendingDevice(code)
	if err != nil {
		l.render(w, http.StatusBadRequest, "usercode", devicePageData{Action: devicePath, UserCode: code, Error: err.Error()})
		return
	}
	username := r.PostForm.Get("username")
	if err := l.storage.checkPassword(username, r.PostForm.Get("password")); err != nil {
		l.render(w, http.StatusUnauthorized, "device_login", devicePageData{
			Action: deviceLoginPath, UserCode: code, ClientID: state.ClientID, Username: username, Error: err.Error(),
		})
		return
	}
	session := rand.Text()
	l.mu.Lock()
	for id, s := range l.sessions {
		if time.Now().After(s.expires) {
			delete(l.sessions, id)
		}
	}
	l.sessions[session] = deviceSession{userCode: code, username: username, expires: state.Expires}
	l.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: deviceCookieName, Value: session, Path: devicePath,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Expires: state.Expires,
	})
	l.render(w, http.StatusOK, "device_confirm", devicePageData{
		Action: deviceConfirmPath, ClientID: state.ClientID, Scopes: state.Scopes, Username: username,
	})
}

func (l *loginUI) deviceConfirm(w http.ResponseWriter, r *http.Request) {
	cookie, err := r.Cookie(deviceCookieName)
	if err != nil {
		l.problem(w, http.StatusBadRequest, "no device login in progress: sign in first")
		return
	}
	l.mu.Lock()
	session, ok := l.sessions[cookie.Value]
	delete(l.sessions, cookie.Value)
	l.mu.Unlock()
	if !ok {
		l.problem(w, http.StatusBadRequest, "device login not found or already used: sign in again")
		return
	}
	if err := r.ParseForm(); err != nil {
		l.problem(w, http.StatusBadRequest, "parse form: "+err.Error())
		return
	}
	var allow bool
	switch r.PostForm.Get("action") {
	case "allow":
		allow = true
	case "deny":
	default:
		l.problem(w, http.StatusBadRequest, `action must be "allow" or "deny"`)
		return
	}
	if err := l.storage.finishDevice(session.userCode, session.username, allow); err != nil {
		l.problem(w, http.StatusBadRequest, err.Error())
		return
	}
	http.SetCookie(w, &http.Cookie{Name: deviceCookieName, Path: devicePath, MaxAge: -1})
	result := "denied"
	if allow {
		result = "allowed"
	}
	l.logger.Debug("device "+result, "user", session.username)
	l.render(w, http.StatusOK, "device_done", devicePageData{Result: result})
}
