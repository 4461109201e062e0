package flow_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/flow"
)

// A refresh is ErrUnanswered only when the provider may have received it
// and gave no answer: not when it could not be sent, nor when the
// provider answered, even with an error.
func TestRefreshUnanswered(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String() + "/token"
	closed.Close()
	for _, tc := range []struct {
		name       string
		handler    http.HandlerFunc // nil: nothing listens
		unanswered bool
	}{
		{"connection refused", nil, false},
		{"answered 503", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "busy", 503) }, false},
		{"answered invalid_grant", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		}, false},
		{"connection closed after the request", func(w http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, true},
		{"no answer until the timeout", func(_ http.ResponseWriter, r *http.Request) {
			_ = r.ParseForm()
			<-r.Context().Done()
		}, true},
		{"answer cut in the middle", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte(`{"access_token":"a`))
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			endpoint := refused
			if tc.handler != nil {
				srv := httptest.NewServer(tc.handler)
				t.Cleanup(srv.Close)
				endpoint = srv.URL + "/token"
			}
			c, err := flow.New(&config.Profile{Name: "p", TokenEndpoint: endpoint, ClientID: "c", Timeout: 500 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Refresh(ctxFor(t), flow.RefreshRequest{RefreshToken: "rt"})
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, flow.ErrUnanswered); got != tc.unanswered {
				t.Errorf("errors.Is(%v, ErrUnanswered) = %v, want %v", err, got, tc.unanswered)
			}
			if tc.unanswered && !errors.Is(err, flow.ErrUnavailable) {
				t.Errorf("%v is not ErrUnavailable", err)
			}
		})
	}
}
