package broker

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/flow"
	"authd.dev/authd/internal/store"
)

// TestReasonOf pins which condition each error is to a client.
func TestReasonOf(t *testing.T) {
	t.Parallel()
	refused := refusedSecret(fmt.Errorf("profile svc: the provider refused the client secret: %w",
		&flow.ProviderError{Op: "client credentials", StatusCode: 401, Code: "invalid_client"}))
	for _, tt := range []struct {
		name string
		err  error
		want api.Reason
	}{
		{"unknown profile", fmt.Errorf("get: %w", ErrProfileNotFound), api.ProfileNotFound},
		{"broken config", fmt.Errorf("%w: line 3", errInvalidConfig), api.InvalidConfig},
		{"login required", fmt.Errorf("profile work: %w", ErrLoginRequired), api.LoginRequired},
		{"grant gone", fmt.Errorf("refresh work: %w", flow.ErrInvalidGrant), api.LoginRequired},
		{"grant refused in a login", fmt.Errorf("login work: %w: %w", flow.ErrLoginFailed, flow.ErrInvalidGrant), api.LoginFailed},
		{"login timed out", fmt.Errorf("login work: %w: %w", ErrLoginTimeout, context.DeadlineExceeded), api.LoginTimeout},
		{"login timed out while the grant was refused", fmt.Errorf("%w: %w", ErrLoginTimeout, flow.ErrInvalidGrant), api.LoginTimeout},
		{"login failed", fmt.Errorf("login work: %w: access_denied", flow.ErrLoginFailed), api.LoginFailed},
		{"login cancelled", fmt.Errorf("login work: %w", errLoginReplaced), api.LoginFailed},
		{"client secret refused", refused, api.LoginFailed},
		{"provider failing on a client secret", refusedSecret(&flow.ProviderError{Code: "server_error"}), api.IDPUnavailable},
		{"provider down", fmt.Errorf("refresh work: %w", flow.ErrUnavailable), api.IDPUnavailable},
		{"keyring locked", fmt.Errorf("read keyring: %w", store.ErrLocked), api.KeyringLocked},
		{"keyring missing", store.ErrUnavailable, api.KeyringUnavailable},
		{"keyring hung", store.ErrTimeout, api.KeyringUnavailable},
		{"no passphrase", store.ErrNoPassphrase, api.KeyringUnavailable},
		{"damaged record", store.ErrCorrupt, api.KeyringUnavailable},
		{"token lifetime", fmt.Errorf("%w: profile work", ErrTokenLifetime), api.TokenLifetime},
		{"invalid request", fmt.Errorf("%w: scope too long", ErrInvalidRequest), api.InvalidRequest},
		{"anything else", errors.New("boom"), api.Unspecified},
	} {
		if got := ReasonOf(tt.err); got != tt.want {
			t.Errorf("%s: ReasonOf(%v) = %s, want %s", tt.name, tt.err, got, tt.want)
		}
	}
	if !strings.Contains(refused.Error(), "invalid_client") {
		t.Errorf("a refused secret's error %q lost the provider's text", refused)
	}
}

// TestNoTransport keeps the broker free of transport code: gRPC and the
// API's types are internal/server's.
func TestNoTransport(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", "authd.dev/authd/internal/broker").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "google.golang.org/") || strings.HasPrefix(dep, "authd.dev/authd/proto/") || dep == "authd.dev/authd/internal/server" {
			t.Errorf("the broker depends on %s", dep)
		}
	}
}
