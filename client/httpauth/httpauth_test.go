package httpauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"authd.dev/authd/client"
	"authd.dev/authd/client/httpauth"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type closeRecorder struct {
	io.Reader
	closed bool
}

func (b *closeRecorder) Close() error { b.closed = true; return nil }

// The token goes on a copy: the caller's request is left as it was.
func TestTransportLeavesTheRequestAlone(t *testing.T) {
	c, err := client.New()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sent string
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent = r.Header.Get("Authorization")
		return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
	})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://api.invalid/", nil)
	if _, err := httpauth.Transport(c, base, client.TokenOptions{}).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sent, "Bearer ") {
		t.Errorf("sent Authorization %q, want a bearer token", sent)
	}
	if h := req.Header.Get("Authorization"); h != "" {
		t.Errorf("the caller's request got Authorization %q", h)
	}
}

// Without a token nothing is sent, and the body is closed as a
// RoundTripper must.
func TestTransportWithoutDaemon(t *testing.T) {
	c, err := client.New(client.WithSocket(filepath.Join(t.TempDir(), "none.sock")))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	base := roundTripFunc(func(*http.Request) (*http.Response, error) {
		t.Error("a request was sent without a token")
		return nil, errors.New("sent")
	})
	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://api.invalid/", body)
	_, err = httpauth.Transport(c, base, client.TokenOptions{}).RoundTrip(req)
	if !errors.Is(err, client.ErrDaemonUnreachable) {
		t.Errorf("RoundTrip: %v, want ErrDaemonUnreachable", err)
	}
	if !body.closed {
		t.Error("the request body was not closed")
	}
}
