package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/idptest"
)

func TestRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:9998", ":9998", "example.com:9998"} {
		err := run(t.Context(), []string{"-addr", addr}, io.Discard, io.Discard)
		if !errors.Is(err, idptest.ErrNotLoopback) {
			t.Errorf("-addr %s: %v, want ErrNotLoopback", addr, err)
		}
	}
}

func TestServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	serveCtx, stop := context.WithCancel(ctx)
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(serveCtx, []string{"-addr", "127.0.0.1:0", "-token-lifetime", "1m"}, w, io.Discard)
		w.Close()
		done <- err
	}()

	lines := bufio.NewScanner(out)
	var issuer string
	var printed strings.Builder
	for lines.Scan() {
		printed.WriteString(lines.Text() + "\n")
		if v, ok := strings.CutPrefix(lines.Text(), "issuer:"); ok {
			issuer = strings.TrimSpace(v)
		}
		if strings.HasPrefix(lines.Text(), "user:") {
			break
		}
	}
	for _, want := range []string{idptest.PublicClientID, idptest.DefaultUsername, idptest.DefaultPassword} {
		if !strings.Contains(printed.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, printed.String())
		}
	}
	if !strings.HasPrefix(issuer, "http://127.0.0.1:") {
		t.Fatalf("issuer line = %q, output:\n%s", issuer, printed.String())
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, issuer+"/.well-known/openid-configuration", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery status %d", resp.StatusCode)
	}

	stop()
	go io.Copy(io.Discard, out) // the goodbye line
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("run did not return after its context was cancelled")
	}
}
