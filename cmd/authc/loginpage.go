package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"authd.dev/authd/internal/socket"
)

// The login URL carries the login's state and PKCE challenge. In the argv
// of $BROWSER or xdg-open, every local user could read it in
// /proc/PID/cmdline and finish the login with an account of their own
// (login CSRF). authc hands the browser a page of the user's own instead,
// in a directory no one else can read, that sends it on to the URL.

// loginPagePrefix names login pages in their directory.
const loginPagePrefix = "login-"

// writeLoginPage writes the page that redirects to loginURL, mode 0600 in
// loginPageDir, and returns its path. The caller removes it when the login
// ends; pages older than a login (left by a killed authc) go at next use.
func writeLoginPage(loginURL string) (string, error) {
	u, err := url.Parse(loginURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Anything else (javascript:, file:) is not a login page to open.
		return "", errors.New("authd sent a login URL that is not http(s)")
	}
	dir, err := loginPageDir()
	if err != nil {
		return "", err
	}
	removeStalePages(dir, time.Now().Add(-loginTimeout))
	f, err := os.CreateTemp(dir, loginPagePrefix+"*.html") // 0600, a name no one can guess
	if err != nil {
		return "", fmt.Errorf("write login page: %w", err)
	}
	_, err = f.WriteString(loginPage(loginURL))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", fmt.Errorf("write login page: %w", err)
	}
	return f.Name(), nil
}

var htmlEscaper = strings.NewReplacer(`&`, "&amp;", `<`, "&lt;", `>`, "&gt;", `"`, "&#34;", `'`, "&#39;")

// loginPage is a page that replaces itself with loginURL at once: by meta
// refresh, and by script where refresh is off. No referrer goes to the
// provider (it would name a local file).
func loginPage(loginURL string) string {
	attr := htmlEscaper.Replace(loginURL)
	// json.Marshal escapes <, > and & (no "</script>" can end the string)
	// and U+2028/U+2029.
	js, _ := json.Marshal(loginURL)
	return `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url=` + attr + `">
<title>authd login</title>
<script>location.replace(` + string(js) + `);</script>
</head><body><p>Opening the <a href="` + attr + `" rel="noreferrer">login page</a>...</p></body></html>
`
}

// fileURL is the file: URL of an absolute path.
func fileURL(path string) string {
	p := filepath.ToSlash(path)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/Users/... on Windows
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// loginPageDir returns authd's directory for login pages: $XDG_RUNTIME_DIR/authd
// (the socket's directory by default), else authd in the user's cache
// directory; created 0700, and refused when it is a symlink, another
// user's, or open to others.
func loginPageDir() (string, error) {
	dir, err := socket.RuntimeDir()
	if err != nil {
		return "", fmt.Errorf("login page directory: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", fmt.Errorf("login page directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("login page directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("login page directory: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("login page directory %s is not a directory (a symlink?)", dir)
	}
	if err := checkOwnDir(dir, fi); err != nil {
		return "", fmt.Errorf("login page directory %s %w", dir, err)
	}
	return dir, nil
}

// removeStalePages removes login pages last written before cutoff.
func removeStalePages(dir string, cutoff time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), loginPagePrefix) || !strings.HasSuffix(e.Name(), ".html") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
