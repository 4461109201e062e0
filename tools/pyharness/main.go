// Command pyharness is the Go side of the Python package's tests
// (python/tests): it serves the test OpenID provider of
// authd.dev/authd/internal/idptest with a recorder in front of its token
// endpoint, and prints the tables the package must agree with.
//
// Usage:
//
//	pyharness serve [-token-lifetime 5m] [-device-interval 1s]
//	pyharness exit-codes
//	pyharness qr [-level L] [-mask 0] TEXT
//
// # serve
//
// serve starts the provider on 127.0.0.1, and on another loopback port a
// reverse proxy to its token endpoint that keeps every token the provider
// answers with: access, refresh and ID tokens. A daemon configured with
// the provider's issuer and the proxy's token_endpoint gets all of its
// tokens through it, so a test knows every secret that exists and can
// look for it where none may be. serve writes one line of JSON on stdout,
//
//	{"issuer":"http://127.0.0.1:P1","token_endpoint":"http://127.0.0.1:P2/oauth/token",
//	 "control":"http://127.0.0.1:P2/test/","client_id":"...","username":"...","password":"...",
//	 "client_secret":"..."}
//
// then serves until its stdin closes (the test that started it is gone)
// or SIGINT or SIGTERM. The control endpoints, on the proxy's port:
//
//	GET /test/issued  {"access_tokens":[...],"refresh_tokens":[...],"id_tokens":[...]}, oldest first
//	GET /test/counts  requests per endpoint at the provider ({"token:refresh_token":2,...}),
//	                  under the names of idptest's Endpoint constants
//
// # exit-codes
//
// exit-codes prints package api's reasons with authc's exit code for
// each, and the codes no reason has, as JSON: the table the package's
// exceptions must cover.
//
// # qr
//
// qr prints the QR code rsc.io/qr (authc's QR codes) makes of TEXT in
// byte mode at the smallest version that holds it, one row of 0 (light)
// and 1 (dark) a line, without the quiet zone: the reference for the
// package's own QR encoder.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"rsc.io/qr/coding"

	"authd.dev/authd/api"
	"authd.dev/authd/internal/idptest"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pyharness serve|exit-codes|qr ...")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "serve":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = serve(ctx, args, os.Stdin, os.Stdout)
		stop()
	case "exit-codes":
		err = exitCodes(os.Stdout)
	case "qr":
		err = printQR(args, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pyharness:", err)
		os.Exit(1)
	}
}

// serve runs the provider and the recorder until ctx is done or stdin
// closes.
func serve(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	tokenLifetime := fs.Duration("token-lifetime", 5*time.Minute, "access token lifetime")
	deviceInterval := fs.Duration("device-interval", time.Second, "device flow polling interval (whole seconds)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// zitadel's op logs every authorization_pending through slog.Default.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	p, err := idptest.Start(idptest.Options{AccessTokenLifetime: *tokenLifetime, DevicePollInterval: *deviceInterval})
	if err != nil {
		return err
	}
	defer p.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	rec, err := newRecorder(p)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close()

	base := "http://" + ln.Addr().String()
	hello, err := json.Marshal(map[string]string{
		"issuer":         p.Issuer(),
		"token_endpoint": base + tokenPath,
		"control":        base + "/test/",
		"client_id":      idptest.PublicClientID,
		"username":       idptest.DefaultUsername,
		"password":       idptest.DefaultPassword,
		"client_secret":  idptest.ConfidentialClientSecret,
	})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(stdout, "%s\n", hello); err != nil {
		return err
	}

	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(stdinClosed)
	}()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	case err := <-served:
		return err
	}
	return nil
}

// tokenPath is the provider's token endpoint (op's default).
const tokenPath = "/oauth/token"

// maxTokenResponse bounds a token response the recorder reads.
const maxTokenResponse = 1 << 20

// recorder forwards the token endpoint to the provider, keeping the tokens
// of every answer, and serves the control endpoints.
type recorder struct {
	provider *idptest.Provider
	proxy    *httputil.ReverseProxy

	mu     sync.Mutex
	issued issued
}

// issued is every token the provider answered with, oldest first.
type issued struct {
	AccessTokens  []string `json:"access_tokens"`
	RefreshTokens []string `json:"refresh_tokens"`
	IDTokens      []string `json:"id_tokens"`
}

func newRecorder(p *idptest.Provider) (*recorder, error) {
	target, err := url.Parse(p.Issuer())
	if err != nil {
		return nil, err
	}
	r := &recorder{provider: p, issued: issued{AccessTokens: []string{}, RefreshTokens: []string{}, IDTokens: []string{}}}
	r.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// A compressed answer could not be read here.
			pr.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: r.keep,
	}
	return r, nil
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	switch req.URL.Path {
	case tokenPath:
		r.proxy.ServeHTTP(w, req)
	case "/test/issued":
		r.mu.Lock()
		b, err := json.Marshal(r.issued)
		r.mu.Unlock()
		writeJSON(w, b, err)
	case "/test/counts":
		counts := map[string]int{}
		for _, e := range []string{idptest.EndpointToken, idptest.EndpointTokenCode, idptest.EndpointTokenRefresh,
			idptest.EndpointTokenDeviceCode, idptest.EndpointDeviceAuthorization, idptest.EndpointAuthorize} {
			counts[e] = r.provider.Count(e)
		}
		b, err := json.Marshal(counts)
		writeJSON(w, b, err)
	default:
		http.NotFound(w, req)
	}
}

func writeJSON(w http.ResponseWriter, b []byte, err error) {
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// keep records the tokens of a token response and hands it on unchanged.
func (r *recorder) keep(resp *http.Response) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	resp.Body.Close()
	if err != nil {
		return err
	}
	if len(body) > maxTokenResponse {
		return errors.New("token response too large")
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		IDToken      string `json:"id_token"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range []struct {
		list *[]string
		v    string
	}{{&r.issued.AccessTokens, tok.AccessToken}, {&r.issued.RefreshTokens, tok.RefreshToken}, {&r.issued.IDTokens, tok.IDToken}} {
		if t.v != "" {
			*t.list = append(*t.list, t.v)
		}
	}
	return nil
}

// exitCode is one row of exit-codes.
type exitCode struct {
	Reason  string `json:"reason,omitempty"`
	Meaning string `json:"meaning"`
	Exit    int    `json:"exit"`
}

func exitCodes(w io.Writer) error {
	var rows []exitCode
	for _, ri := range api.Reasons {
		rows = append(rows, exitCode{Reason: string(ri.Reason), Meaning: ri.Meaning, Exit: ri.Exit})
	}
	rows = append(rows,
		exitCode{Meaning: "success", Exit: api.ExitOK},
		exitCode{Meaning: "usage: a bad command, flag or argument", Exit: api.ExitUsage},
		exitCode{Meaning: "interrupted (SIGINT)", Exit: api.ExitInterrupted},
		exitCode{Meaning: "terminated (SIGTERM)", Exit: 128 + int(syscall.SIGTERM)},
	)
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printQR prints rsc.io/qr's code of a text.
func printQR(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("qr", flag.ContinueOnError)
	level := fs.String("level", "L", "error correction level: L, M, Q or H")
	mask := fs.Int("mask", 0, "mask pattern, 0 to 7")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("qr takes one TEXT")
	}
	l := coding.Level(strings.Index("LMQH", *level))
	if len(*level) != 1 || l < 0 || *mask < 0 || *mask > 7 {
		return fmt.Errorf("bad -level %q or -mask %d", *level, *mask)
	}
	enc := coding.String(fs.Arg(0))
	v := coding.Version(coding.MinVersion)
	for ; enc.Bits(v) > v.DataBytes(l)*8; v++ {
		if v == coding.MaxVersion {
			return errors.New("text too long for a QR code")
		}
	}
	plan, err := coding.NewPlan(v, l, coding.Mask(*mask))
	if err != nil {
		return err
	}
	code, err := plan.Encode(enc)
	if err != nil {
		return err
	}
	var b strings.Builder
	for y := range code.Size {
		for x := range code.Size {
			if code.Black(x, y) {
				b.WriteByte('1')
			} else {
				b.WriteByte('0')
			}
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}
