package idptest

import (
	"context"
	"io"
	"net"
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
	Status     int    // answer this status (503, 429, ...) instead of forwarding
	RetryAfter string // with Status: the Retry-After header
	Hang       bool   // never answer: hold the request until the client gives up
	// Forward, with Hang: the provider gets the request and does its work
	// (rotates a refresh token, redeems a code) before the answer is held.
	Forward bool
	Reset   bool // close the connection without answering
	// LoseAnswer forwards the request, then closes the connection instead
	// of answering: the provider did the work (rotated a refresh token),
	// and its answer never reaches the client.
	LoseAnswer bool
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
	// See faultproxy_chaos.go.
	conns   uint64 // connections accepted so far
	dropped uint64 // connections numbered up to this one are dead
	chaos   *Chaos
	injects Injected
}

// NewFaultProxy starts a proxy to target on 127.0.0.1, closed with the test.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	p, err := StartFaultProxy(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// StartFaultProxy starts a proxy to target on 127.0.0.1, for programs:
// [FaultProxy.Close] stops it.
func StartFaultProxy(target string) (*FaultProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &FaultProxy{counts: map[string]int{}, closed: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := p.faultFor(r)
		switch {
		case f.Hang:
			if f.Forward {
				rp.ServeHTTP(httptest.NewRecorder(), r)
			}
			// Reading the body lets the server notice the client leaving.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-p.closed:
			}
		case f.Reset, f.LoseAnswer:
			if f.LoseAnswer {
				rp.ServeHTTP(httptest.NewRecorder(), r)
			}
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
	p.srv.Config.ConnContext = p.numberConn
	p.srv.Start()
	return p, nil
}

// faultFor counts r and decides what to do with it.
func (p *FaultProxy) faultFor(r *http.Request) Fault {
	p.mu.Lock()
	p.counts[r.URL.Path]++
	if n, _ := r.Context().Value(connNumber{}).(uint64); n <= p.dropped {
		p.injects.Dropped++
		p.mu.Unlock()
		return Fault{Hang: true}
	}
	if c := p.chaos; c != nil {
		f, injected := p.chaosFault()
		p.mu.Unlock()
		if injected && c.OnInject != nil {
			c.OnInject(f)
		}
		return f
	}
	defer p.mu.Unlock()
	return p.fault
}

// Close stops the proxy, releasing the requests it holds.
func (p *FaultProxy) Close() {
	p.mu.Lock()
	select {
	case <-p.closed:
		p.mu.Unlock()
		return
	default:
	}
	close(p.closed)
	p.mu.Unlock()
	p.srv.Close()
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

// connNumber is the context key of a connection's number, from 1.
type connNumber struct{}

func (p *FaultProxy) numberConn(ctx context.Context, _ net.Conn) context.Context {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns++
	return context.WithValue(ctx, connNumber{}, p.conns)
}
