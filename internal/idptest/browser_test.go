package idptest_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"authd.dev/authd/internal/idptest"
)

// newBrowser starts a headless Chromium for t, or skips t without one.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium on PATH")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.UserDataDir(t.TempDir()))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(testContext(t), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// TestBrowserPages drives the login and device pages through their element
// IDs in a real browser, as authd's browser tests do.
func TestBrowserPages(t *testing.T) {
	t.Parallel()
	browser := newBrowser(t)
	p := idptest.New(t, idptest.Options{})
	c := newTestClient(t, p, idptest.PublicClientID, "")

	tab := func(t *testing.T) context.Context {
		ctx, cancel := chromedp.NewContext(browser)
		t.Cleanup(cancel)
		ctx, cancelTimeout := context.WithTimeout(ctx, 20*time.Second)
		t.Cleanup(cancelTimeout)
		return ctx
	}

	t.Run("login", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		ctx := tab(t)
		err := chromedp.Do(ctx,
			chromedp.Navigate(c.cfg.AuthCodeURL("browser-state", oauth2.S256ChallengeOption(verifier))),
			chromedp.SendKeys(chromedp.ID("username"), idptest.DefaultUsername),
			chromedp.SendKeys(chromedp.ID("password"), idptest.DefaultPassword),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.WaitNotPresent(chromedp.ID("password")),
		)
		if err != nil {
			t.Fatalf("browser login: %v", err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatalf("browser login: %v", err)
		}
		if !strings.Contains(text, "login complete") {
			t.Fatalf("browser ended on %q, want the callback's success page", text)
		}
		if _, err := c.cfg.Exchange(testContext(t), c.lastCallback(t).Get("code"), oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("exchange the browser's code: %v", err)
		}
	})

	t.Run("deny", func(t *testing.T) {
		err := chromedp.Do(tab(t),
			chromedp.Navigate(c.cfg.AuthCodeURL("deny-state", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))),
			chromedp.Click(chromedp.ID("deny")),
			chromedp.WaitNotPresent(chromedp.ID("deny")),
		)
		if err != nil {
			t.Fatalf("browser deny: %v", err)
		}
		if q := c.lastCallback(t); q.Get("error") != "access_denied" || q.Get("state") != "deny-state" {
			t.Fatalf("callback query = %v, want error=access_denied with the state", q)
		}
	})

	t.Run("device", func(t *testing.T) {
		ctx := testContext(t)
		da, err := c.cfg.DeviceAuth(ctx)
		if err != nil {
			t.Fatalf("device authorization: %v", err)
		}
		btab := tab(t)
		err = chromedp.Do(btab,
			chromedp.Navigate(da.VerificationURI),
			chromedp.SendKeys(chromedp.ID("user_code"), da.UserCode),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.WaitVisible(chromedp.ID("password")),
			chromedp.SendKeys(chromedp.ID("username"), idptest.DefaultUsername),
			chromedp.SendKeys(chromedp.ID("password"), idptest.DefaultPassword),
			chromedp.Click(chromedp.ID("submit")),
			chromedp.Click(chromedp.ID("allow")),
		)
		if err != nil {
			t.Fatalf("browser device approval: %v", err)
		}
		result, err := chromedp.Run(btab, chromedp.AttributeValue(chromedp.ID("result"), "data-result"))
		if err != nil || result.Value != "allowed" {
			t.Fatalf("device page result = %q, %v; want allowed", result.Value, err)
		}
		if _, err := c.cfg.DeviceAccessToken(ctx, da); err != nil {
			t.Fatalf("poll after browser approval: %v", err)
		}
	})
}
