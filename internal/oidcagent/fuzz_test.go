package oidcagent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"unicode"

	"authd.dev/authd/internal/broker"
)

// FuzzDecode feeds a client's bytes to everything that reads them: the
// completeness checks, the public key decoder, the decryption of a sealed
// request (with the key of the first recorded exchange, whose request and
// libsodium's answer are among the seeds), the request parser, and the
// answer to what parses. None may panic; what is accepted must be within
// the bounds; every answer is one JSON object.
func FuzzDecode(f *testing.F) {
	v := loadVectors(f)
	key := v.sessionKeyFor(f, v.Exchanges[0].ClientPublicKey)
	for _, ex := range v.Exchanges {
		f.Add([]byte(ex.ClientPublicKey))
		f.Add([]byte(ex.SealedRequest))
		f.Add([]byte(ex.Request))
	}
	f.Add([]byte(v.Response.Sealed))
	f.Add([]byte(`{"request":"access_token","issuer":"https://idp.example.com/","min_valid_period":"60","scope":"a b"}`))
	f.Add([]byte(`{"request":"remove","account":"work"}`))
	s := &server{b: noSessions{}, opts: Options{}.withDefaults(), log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, data []byte) {
		wholeFirst(data)
		wholeSealed(data)
		if pk, err := decodePublicKey(data); err == nil {
			if !bytes.Equal(encodePublicKey(pk), data) {
				t.Errorf("public key %q decodes, but encodes as %q", data, encodePublicKey(pk))
			}
			newSessionKey(pk, (*[keySize]byte)(key))
		}
		if plain, err := key.open(data); err == nil {
			if len(plain) > maxMessage {
				t.Errorf("opened %d bytes", len(plain))
			}
			checkParsed(t, plain)
		}
		checkParsed(t, data)
		checkAnswer(t, s.answer(context.Background(), data, 0))
	})
}

// checkParsed checks what parseRequest makes of data.
func checkParsed(t *testing.T, data []byte) {
	req, err := parseRequest(data)
	if err != nil {
		var bad *badRequestError
		if !errors.As(err, &bad) {
			t.Fatalf("error %v is no Bad Request", err)
		}
		return
	}
	if req.Type != requestAccessToken {
		return
	}
	switch {
	case req.Account == "" && req.Issuer == "":
		t.Error("accepted with neither account nor issuer")
	case len(req.Account) > maxAccountLen, len(req.Issuer) > maxIssuerLen, len(req.Audience) > maxAudienceLen, len(req.Scopes) > maxScopes:
		t.Errorf("accepted beyond the bounds: %+v", req)
	case req.MinValid < 0 || req.MinValid > maxMinValid || req.Force && req.MinValid != 0:
		t.Errorf("min valid %s, force %v", req.MinValid, req.Force)
	}
	for _, sc := range req.Scopes {
		if sc == "" || len(sc) > maxScopeLen {
			t.Errorf("scope %q", sc)
		}
	}
}

// checkAnswer checks that an answer is one JSON object with a status, and
// its error text free of control characters.
func checkAnswer(t *testing.T, answer []byte) {
	var a struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if !isJSONObject(answer) || json.Unmarshal(answer, &a) != nil || a.Status == "" {
		t.Fatalf("answer %q is not a JSON object with a status", answer)
	}
	if strings.IndexFunc(a.Error, unicode.IsControl) >= 0 || len(a.Error) > maxErrorLen {
		t.Errorf("error text %q", a.Error)
	}
}

// noSessions has one profile, "work", whose session cannot be had.
type noSessions struct{}

func (noSessions) Profiles() []string { return []string{"work"} }

func (noSessions) Session(name string) (*broker.Session, error) {
	return nil, fmt.Errorf("%w: no profile %q", broker.ErrProfileNotFound, name)
}
