// Package oidcagent serves oidc-agent's clients from authd: oidc-token,
// liboidc-agent and the programs built on them get their access tokens
// from authd's sessions when OIDC_SOCK names a socket that [Serve] serves.
// authd opens one when its config sets [compat] oidc_agent_socket.
//
// # Protocol
//
// oidc-agent's IPC runs over a SOCK_STREAM Unix socket, one request per
// connection, with no framing: a message is what one write put on the
// socket. A request is a JSON object such as
//
//	{"request":"access_token","account":"work","min_valid_period":60,
//	 "scope":"openid email","audience":"api","application_hint":"oidc-token"}
//
// with "issuer" in place of "account" to ask for the profile of an issuer,
// and the answer is {"status":"success","access_token":...,"issuer":...,
// "expires_at":UNIX} or {"status":"failure","error":...}. Unknown fields
// are ignored. oidc-agent's own clients (4.x, 5.x) encrypt: the client
// sends its X25519 public key in base64, the server answers with its own,
// both derive libsodium's crypto_box_beforenm key, and the request and the
// answer each travel as "LEN:NONCE:BOX": the plaintext's length in
// decimal, then the nonce and the crypto_secretbox_easy output in base64.
// A client that sends its request in the clear is answered in the clear,
// as oidc-agent answers it.
//
// # What authd answers
//
// An account is an authd profile name; an issuer selects the one profile
// with that issuer (a trailing slash does not count), and several are an
// error. min_valid_period, scope and audience mean what authd's own
// GetToken's min_valid, scopes and audience mean: 0 seconds is authd's
// default validity, and -1 ('oidc-token --force-new') a new token. A
// profile that needs a login is a failure that says to run 'authc login':
// this socket never starts one. Only access tokens leave: never a refresh
// token, an ID token or a client secret. Every other request type (add,
// remove, gen, id_token, loaded_accounts, ...) is refused as not supported.
//
// # Limits
//
// Connections from another uid are closed before anything is read, and
// those over [Options].MaxConns as soon as they are accepted. Messages are
// at most 64 KiB; reading a request, answering it and writing the answer
// each have a deadline; a connection whose handling panics is closed and
// logged, and the others go on. Error texts are stripped of control
// characters ([flow.CleanText]) before they reach the client.
package oidcagent
