package oidcagent

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/curve25519"
)

// vectors are testdata/oidc-token-4.2.6.json: what the real client sent,
// and what libsodium made, so that these tests do not check the code
// against itself.
type vectors struct {
	ServerSecretKey string `json:"server_secret_key"`
	ServerPublicKey string `json:"server_public_key"`
	Exchanges       []struct {
		Args            string `json:"args"`
		ClientPublicKey string `json:"client_public_key"`
		SealedRequest   string `json:"sealed_request"`
		Request         string `json:"request"`
	} `json:"exchanges"`
	Response struct {
		ClientPublicKey string `json:"client_public_key"`
		Nonce           string `json:"nonce"`
		Message         string `json:"message"`
		Sealed          string `json:"sealed"`
	} `json:"response"`
}

func loadVectors(t testing.TB) *vectors {
	t.Helper()
	data, err := os.ReadFile("testdata/oidc-token-4.2.6.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Exchanges) == 0 {
		t.Fatal("no exchanges in the vectors")
	}
	return &v
}

func (v *vectors) serverSecret(t testing.TB) *[keySize]byte {
	t.Helper()
	b, err := hex.DecodeString(v.ServerSecretKey)
	if err != nil || len(b) != keySize {
		t.Fatalf("server secret key: %v", err)
	}
	return (*[keySize]byte)(b)
}

// sessionKeyFor is the key the server of the vectors shares with a client.
func (v *vectors) sessionKeyFor(t testing.TB, clientPublic string) *sessionKey {
	t.Helper()
	pk, err := decodePublicKey([]byte(clientPublic))
	if err != nil {
		t.Fatalf("client public key %q: %v", clientPublic, err)
	}
	k, err := newSessionKey(pk, v.serverSecret(t))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The server's public key is sent as libsodium encodes crypto_kx's X25519
// key: the key this server sends for its secret must be that one.
func TestPublicKeyAsLibsodium(t *testing.T) {
	v := loadVectors(t)
	pub, err := curve25519.X25519(v.serverSecret(t)[:], curve25519.Basepoint)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(encodePublicKey((*[keySize]byte)(pub))); got != v.ServerPublicKey {
		t.Errorf("public key %s, libsodium's %s", got, v.ServerPublicKey)
	}
}

// Every request oidc-token 4.2.6 sent decrypts to the JSON it meant.
func TestOpenOIDCTokenRequests(t *testing.T) {
	v := loadVectors(t)
	for _, ex := range v.Exchanges {
		t.Run(ex.Args, func(t *testing.T) {
			k := v.sessionKeyFor(t, ex.ClientPublicKey)
			if !wholeSealed([]byte(ex.SealedRequest)) {
				t.Error("the request is not seen as whole")
			}
			got, err := k.open([]byte(ex.SealedRequest))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != ex.Request {
				t.Errorf("decrypted\n%s\nwant\n%s", got, ex.Request)
			}
		})
	}
}

// An answer sealed here is byte for byte what libsodium seals, framed as
// oidc-agent frames it; and libsodium's opens.
func TestSealAsLibsodium(t *testing.T) {
	v := loadVectors(t)
	r := v.Response
	k := v.sessionKeyFor(t, r.ClientPublicKey)
	nonce, err := base64.StdEncoding.DecodeString(r.Nonce)
	if err != nil || len(nonce) != nonceSize {
		t.Fatalf("nonce: %v", err)
	}
	if got := k.sealWithNonce([]byte(r.Message), (*[nonceSize]byte)(nonce)); string(got) != r.Sealed {
		t.Errorf("sealed\n%s\nlibsodium\n%s", got, r.Sealed)
	}
	got, err := k.open([]byte(r.Sealed))
	if err != nil || string(got) != r.Message {
		t.Errorf("open libsodium's = %q, %v", got, err)
	}
	// seal draws a fresh nonce each time.
	a, _ := k.seal([]byte(r.Message))
	b, _ := k.seal([]byte(r.Message))
	if bytes.Equal(a, b) {
		t.Error("two seals of one message are equal: the nonce is not fresh")
	}
}

// What is not exactly a sealed message of this key is refused.
func TestOpenRefuses(t *testing.T) {
	v := loadVectors(t)
	ex := v.Exchanges[0]
	k := v.sessionKeyFor(t, ex.ClientPublicKey)
	good := ex.SealedRequest
	lenField, rest, _ := strings.Cut(good, ":")
	nonce, sealed, _ := strings.Cut(rest, ":")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	other := v.sessionKeyFor(t, v.Exchanges[1].ClientPublicKey)
	for name, msg := range map[string]string{
		"empty":            "",
		"no colon":         "142",
		"one colon":        lenField + ":" + nonce,
		"length too short": "141:" + rest,
		"length too long":  "143:" + rest,
		"length signed":    "+142:" + rest,
		"length huge":      "99999999999999999999:" + rest,
		"length empty":     ":" + rest,
		"nonce altered":    lenField + ":" + flip(nonce, 3) + ":" + sealed,
		"nonce short":      lenField + ":" + nonce[:28] + ":" + sealed,
		"box altered":      lenField + ":" + nonce + ":" + flip(sealed, 10),
		"tag altered":      lenField + ":" + nonce + ":" + flip(sealed, 0),
		"box unpadded":     lenField + ":" + nonce + ":" + strings.TrimRight(sealed, "="),
		"trailing newline": good + "\n",
		"fourth field":     good + ":AAAA",
		"url alphabet":     strings.NewReplacer("+", "-", "/", "_").Replace(good),
	} {
		if got, err := k.open([]byte(msg)); err == nil {
			t.Errorf("%s: opened to %q", name, got)
		}
	}
	if got, err := other.open([]byte(good)); err == nil {
		t.Errorf("another connection's key opened it to %q", got)
	}
}

func TestDecodePublicKey(t *testing.T) {
	v := loadVectors(t)
	good := v.Exchanges[0].ClientPublicKey
	if _, err := decodePublicKey([]byte(good)); err != nil {
		t.Fatal(err)
	}
	// The last character carries 4 bits of the key and 2 of padding.
	last := []byte(good)
	last[len(last)-2]++
	for name, msg := range map[string]string{
		"short":        good[:43],
		"long":         good + "=",
		"newline":      good[:43] + "\n",
		"not base64":   strings.Repeat("!", 44),
		"padding bits": string(last),
		"31-byte key":  base64.StdEncoding.EncodeToString(make([]byte, 31)),
	} {
		if _, err := decodePublicKey([]byte(msg)); err == nil {
			t.Errorf("%s: %q accepted", name, msg)
		}
	}
}

// A public key of low order makes a shared key everyone knows: refused,
// as libsodium's crypto_box_beforenm refuses it.
func TestLowOrderKeyRefused(t *testing.T) {
	v := loadVectors(t)
	var zero [keySize]byte
	if _, err := newSessionKey(&zero, v.serverSecret(t)); err == nil {
		t.Error("the all-zero public key was accepted")
	}
}
