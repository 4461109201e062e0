package idptest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Fault is what a [FaultProxy] does with the requests it receives. The zero
// Fault forwards them.
type Fault struct {
	Status     int           // answer this status (503, 429, ...) instead of forwarding
	RetryAfter string        // with Status: the Retry-After header
	Hang       bool          // never answer: hold the request until the client gives up
	Reset      bool          // close the connection without answering
	Delay      time.Duration // forward after this long
}

// FaultProxy is a reverse proxy in front of a provider that fails on
// command, and counts the requests that reach it per path.
type FaultProxy struct {
	srv *httptest.Server

	closed chan struct{} // releases hung requests when the proxy closes

	mu     sync.Mutex
	fault  Fault
	counts map[string]int
}

// NewFaultProxy starts a proxy to target on 127.0.0.1, closed with the test.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{counts: map[string]int{}, closed: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		f := p.fault
		p.counts[r.URL.Path]++
		p.mu.Unlock()
		switch {
		case f.Hang:
			// Reading the body lets the server notice the client leaving.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-p.closed:
			}
		case f.Reset:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
				}
			}
		case f.Status != 0:
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			http.Error(w, http.StatusText(f.Status), f.Status)
		default:
			if f.Delay > 0 {
				select {
				case <-time.After(f.Delay):
				case <-r.Context().Done():
					return
				}
			}
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() {
		close(p.closed)
		p.srv.Close()
	})
	return p
}

// URL is the proxy's base URL: the provider's paths work under it.
func (p *FaultProxy) URL() string { return p.srv.URL }

// Set changes what the proxy does with the next requests.
func (p *FaultProxy) Set(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

// Count is how many requests for path reached the proxy.
func (p *FaultProxy) Count(path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[path]
}
