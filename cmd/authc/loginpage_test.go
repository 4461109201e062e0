package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/api"
	pb "authd.dev/authd/proto/authd/v1"
)

// hostileURL would break out of an attribute or a script if it were not
// escaped.
const hostileURL = `http://127.0.0.1:1/authorize?state=S3CR3T&code_challenge=C&x="><script>alert(1)</script>&y='</script>`

func TestWriteLoginPage(t *testing.T) {
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	page, err := writeLoginPage(hostileURL)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(page)
	dir := filepath.Join(runtime, "authd")
	if filepath.Dir(page) != dir {
		t.Errorf("page %s is not in %s", page, dir)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, page: 0o600} {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %#o, want %#o", path, got, want)
		}
	}
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(data)
	attr := `http://127.0.0.1:1/authorize?state=S3CR3T&amp;code_challenge=C&amp;x=&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;y=&#39;&lt;/script&gt;`
	js := `"http://127.0.0.1:1/authorize?state=S3CR3T\u0026code_challenge=C\u0026x=\"\u003e\u003cscript\u003ealert(1)\u003c/script\u003e\u0026y='\u003c/script\u003e"`
	for _, want := range []string{
		`<meta name="referrer" content="no-referrer">`,
		`<meta http-equiv="refresh" content="0;url=` + attr + `">`,
		`<script>location.replace(` + js + `);</script>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %s:\n%s", want, html)
		}
	}
	if strings.Count(html, "<script>") != 1 || strings.Count(html, "</script>") != 1 {
		t.Errorf("the URL escaped its quoting:\n%s", html)
	}
	u, err := url.Parse(fileURL(page))
	if err != nil || u.Scheme != "file" || u.Path != page {
		t.Errorf("fileURL(%s) = %s (%v)", page, fileURL(page), err)
	}
}

func TestWriteLoginPageRefuses(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, runtime string)
		url   string
	}{
		{"a symlinked directory", func(t *testing.T, runtime string) {
			if err := os.Symlink(t.TempDir(), filepath.Join(runtime, "authd")); err != nil {
				t.Fatal(err)
			}
		}, hostileURL},
		{"a directory open to others", func(t *testing.T, runtime string) {
			if err := os.Mkdir(filepath.Join(runtime, "authd"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(runtime, "authd"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, hostileURL},
		{"a URL that is not http", func(*testing.T, string) {}, "javascript:alert(1)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			runtime := t.TempDir()
			t.Setenv("XDG_RUNTIME_DIR", runtime)
			tt.setup(t, runtime)
			if page, err := writeLoginPage(tt.url); err == nil {
				t.Errorf("writeLoginPage wrote %s", page)
			}
		})
	}
}

func TestStaleLoginPagesRemoved(t *testing.T) {
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	dir := filepath.Join(runtime, "authd")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale, other := filepath.Join(dir, "login-1.html"), filepath.Join(dir, "authd.sock.html")
	for _, p := range []string{stale, other} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-2 * loginTimeout)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	page, err := writeLoginPage(hostileURL)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{stale: false, other: true, page: true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", p, err == nil, want)
		}
	}
}

// The browser gets the page, not the URL, in its argv; the page is gone
// once the login ends.
func TestLoginOpensPageNotURL(t *testing.T) {
	serve(t, &fakeDaemon{events: []*pb.LoginEvent{
		{Event: &pb.LoginEvent_OpenUrl{OpenUrl: &pb.OpenURL{Url: hostileURL, RedirectUri: "http://127.0.0.1:2/callback"}}},
		{Event: &pb.LoginEvent_Done{Done: &pb.Done{Account: "alice"}}},
	}})
	dir := t.TempDir()
	argv, copied := filepath.Join(dir, "argv"), filepath.Join(dir, "page")
	browser := filepath.Join(dir, "browser")
	script := "#!/bin/sh\necho \"$@\" > " + argv + "\ncat \"${1#file://}\" > " + copied + "\n"
	if err := os.WriteFile(browser, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	r := runAuthcWithBrowser(t, browser, "login")
	if r.code != api.ExitOK {
		t.Fatalf("authc login: exit %d\n%s", r.code, r.stderr)
	}
	args, err := os.ReadFile(argv)
	if err != nil {
		t.Fatalf("the browser did not run: %v\n%s", err, r.stderr)
	}
	if strings.Contains(string(args), "S3CR3T") || strings.Contains(string(args), "code_challenge") || !strings.HasPrefix(string(args), "file:///") {
		t.Errorf("the browser's argv is %q, want a file URL without the login's state", args)
	}
	page, err := os.ReadFile(copied)
	if err != nil || !strings.Contains(string(page), "state=S3CR3T&amp;code_challenge") {
		t.Errorf("the browser read no login page for the URL (%v):\n%s", err, page)
	}
	path := strings.TrimPrefix(strings.TrimSpace(string(args)), "file://")
	if _, err := os.Stat(path); err == nil {
		t.Errorf("the login page %s is still there after the login", path)
	}
}
