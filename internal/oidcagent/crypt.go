package oidcagent

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
)

// What oidc-agent's IPC encryption is made of (libsodium): X25519 keys
// (crypto_kx_keypair), a key both ends derive with crypto_box_beforenm,
// and messages sealed with crypto_secretbox_easy, whose output is the
// 16-byte Poly1305 tag followed by the XSalsa20 ciphertext.
const (
	keySize   = 32
	nonceSize = 24
	tagSize   = box.Overhead
)

// b64 is libsodium's sodium_base64_VARIANT_ORIGINAL: the standard alphabet
// with padding. libsodium refuses non-zero padding bits, so Strict.
var b64 = base64.StdEncoding.Strict()

// publicKeyLen is the length of a base64 public key, the first message of
// each side.
var publicKeyLen = b64.EncodedLen(keySize)

// sessionKey is the key of one connection, the same at both ends:
// crypto_box_beforenm of the peer's public key and one's own secret key.
type sessionKey [keySize]byte

// newSessionKey derives the key of a connection from the peer's public key
// and our secret key. A peer key of low order, whose shared secret is zero
// (and so known to all), is refused, as libsodium refuses it.
func newSessionKey(peer, secret *[keySize]byte) (*sessionKey, error) {
	if _, err := curve25519.X25519(secret[:], peer[:]); err != nil {
		return nil, errors.New("the client's public key is not usable")
	}
	var k [keySize]byte
	box.Precompute(&k, peer, secret)
	return (*sessionKey)(&k), nil
}

// encodePublicKey is a public key as either side sends it: base64 alone.
func encodePublicKey(pk *[keySize]byte) []byte {
	return []byte(b64.EncodeToString(pk[:]))
}

// decodePublicKey reads the public key a client sends first.
func decodePublicKey(msg []byte) (*[keySize]byte, error) {
	pk, err := decodeExactly(msg, keySize)
	if err != nil {
		return nil, fmt.Errorf("bad public key: %w", err)
	}
	return (*[keySize]byte)(pk), nil
}

// seal encrypts msg as oidc-agent's encryptForIpc does: the plaintext's
// length in decimal, the nonce and the sealed box, each in base64, joined
// by colons ("%lu:%s:%s"). The peer reads the length to size its buffers.
func (k *sessionKey) seal(msg []byte) ([]byte, error) {
	var nonce [nonceSize]byte
	if _, err := io.ReadFull(rand.Reader, nonce[:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return k.sealWithNonce(msg, &nonce), nil
}

func (k *sessionKey) sealWithNonce(msg []byte, nonce *[nonceSize]byte) []byte {
	sealed := box.SealAfterPrecomputation(nil, msg, nonce, (*[keySize]byte)(k))
	out := strconv.AppendInt(nil, int64(len(msg)), 10)
	out = append(out, ':')
	out = b64.AppendEncode(out, nonce[:])
	out = append(out, ':')
	return b64.AppendEncode(out, sealed)
}

// open decrypts a message sealed as [sessionKey.seal] seals it. It is
// stricter than oidc-agent's decryptForIpc, which ignores what does not
// decode: every field must be exactly what its length says.
func (k *sessionKey) open(msg []byte) ([]byte, error) {
	n, nonceB64, sealedB64, err := splitSealed(msg)
	if err != nil {
		return nil, err
	}
	nonce, err := decodeExactly(nonceB64, nonceSize)
	if err != nil {
		return nil, fmt.Errorf("malformed encrypted message: nonce: %w", err)
	}
	sealed, err := decodeExactly(sealedB64, n+tagSize)
	if err != nil {
		return nil, fmt.Errorf("malformed encrypted message: ciphertext: %w", err)
	}
	plain, ok := box.OpenAfterPrecomputation(nil, sealed, (*[nonceSize]byte)(nonce), (*[keySize]byte)(k))
	if !ok {
		return nil, errors.New("the encrypted message does not authenticate")
	}
	return plain, nil
}

// decodeExactly decodes src, which must be the base64 of n bytes.
func decodeExactly(src []byte, n int) ([]byte, error) {
	if len(src) != b64.EncodedLen(n) {
		return nil, fmt.Errorf("%d base64 characters for %d bytes", len(src), n)
	}
	out := make([]byte, b64.DecodedLen(len(src)))
	m, err := b64.Decode(out, src)
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if m != n {
		return nil, fmt.Errorf("%d bytes, not %d", m, n)
	}
	return out[:n], nil
}

// splitSealed splits "LEN:NONCE:SEALED", bounding LEN by maxMessage.
func splitSealed(msg []byte) (n int, nonce, sealed []byte, err error) {
	lenField, rest, ok := bytes.Cut(msg, []byte(":"))
	if !ok {
		return 0, nil, nil, errors.New("malformed encrypted message: no length")
	}
	nonce, sealed, ok = bytes.Cut(rest, []byte(":"))
	if !ok {
		return 0, nil, nil, errors.New("malformed encrypted message: no nonce")
	}
	n, err = parseLength(lenField)
	if err != nil {
		return 0, nil, nil, err
	}
	return n, nonce, sealed, nil
}

// parseLength reads a message's decimal plaintext length, at most maxMessage.
func parseLength(field []byte) (int, error) {
	if len(field) == 0 || len(field) > 7 {
		return 0, errors.New("malformed encrypted message: bad length")
	}
	n := 0
	for _, c := range field {
		if c < '0' || c > '9' {
			return 0, errors.New("malformed encrypted message: bad length")
		}
		n = n*10 + int(c-'0')
	}
	if n > maxMessage {
		return 0, fmt.Errorf("encrypted message too long (%d bytes, at most %d)", n, maxMessage)
	}
	return n, nil
}
