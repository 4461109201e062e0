package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"authd.dev/authd/internal/regularfile"
)

// The file is decoded in two steps: [tomlDoc] turns the unstable AST into
// generic maps (as toml.Unmarshal would) and the line of every key, then
// [decoder] checks the values by hand so that each problem names its key
// and line.

// validProfileName reports whether name matches [A-Za-z0-9_.-]+. (No
// regexp: authc reads this package, and pays for every init at start-up.)
func validProfileName(name string) bool {
	return name != "" && strings.IndexFunc(name, func(r rune) bool { return !unreserved(r) || r == '~' }) < 0
}

// unreserved reports whether r is an unreserved character of RFC 3986.
func unreserved(r rune) bool {
	return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)
}

// reservedAuthParams are authorization request parameters authd sets itself.
var reservedAuthParams = []string{
	"client_id", "code_challenge", "code_challenge_method", "nonce",
	"redirect_uri", "response_type", "scope", "state",
}

type decoder struct {
	checkFile func(key, path string, content []byte) error // see [Reader]
	path      string
	dir       string         // relative paths in the file are relative to dir
	root      map[string]any // the file, as toml.Unmarshal decodes it
	lines     map[string]int // pathKey(key) -> line where key first appears
	errs      []*Error
}

func newDecoder(path string, data []byte, checkFile func(key, path string, content []byte) error) (*decoder, error) {
	d := &decoder{path: path, dir: filepath.Dir(path), checkFile: checkFile}
	if abs, err := filepath.Abs(d.dir); err == nil {
		d.dir = abs
	}
	doc := newTOMLDoc(data)
	if err := doc.decode(); err != nil {
		return nil, Errors{{File: path, Line: err.line, Msg: "syntax error: " + err.msg}}
	}
	d.root, d.lines = doc.root.m, doc.lines
	return d, nil
}

// keyLines maps every key of a syntactically valid document, and every
// prefix of a dotted key or table header, to the line it first appears on.
func keyLines(data []byte) map[string]int {
	doc := newTOMLDoc(data)
	doc.decode()
	return doc.lines
}

// pathKey joins key parts with a byte no TOML key can hold unescaped.
func pathKey(key []string) string { return strings.Join(key, "\x00") }

// dotted spells key as TOML would, quoting the parts that are not bare keys.
func dotted(key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = k
		if k == "" || strings.IndexFunc(k, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
		}) >= 0 {
			parts[i] = strconv.Quote(k)
		}
	}
	return strings.Join(parts, ".")
}

// line is where key, or the closest enclosing table that is in the file,
// first appears; 0 when none is.
func (d *decoder) line(key []string) int {
	for i := len(key); i > 0; i-- {
		if l, ok := d.lines[pathKey(key[:i])]; ok {
			return l
		}
	}
	return 0
}

func (d *decoder) errorf(key []string, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.path, Line: d.line(key), Key: dotted(key), Msg: fmt.Sprintf(format, args...)})
}

// maxErrors caps the problems reported of one file: enough to fix a file
// in one go, few enough to read.
const maxErrors = 5

// problems returns the file's problems, at most maxErrors of them: unknown
// keys first (a misspelt key also makes the real one look missing), then the
// others, each in file order.
func (d *decoder) problems() error {
	if len(d.errs) == 0 {
		return nil
	}
	rank := func(e *Error) int {
		if strings.HasPrefix(e.Msg, "unknown key") {
			return 0
		}
		return 1
	}
	errs := slices.Clone(d.errs)
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if r := rank(a) - rank(b); r != 0 {
			return r
		}
		return a.Line - b.Line
	})
	return Errors(errs[:min(len(errs), maxErrors)])
}

func (d *decoder) config() *Config {
	cfg := &Config{Path: d.path, Profiles: map[string]*Profile{}}
	root := &table{d: d, m: d.root, seen: map[string]bool{}}
	root.str("default_profile", &cfg.DefaultProfile)
	cfg.Autostart = true
	root.boolean("autostart", &cfg.Autostart)
	cfg.Keyring = d.keyring(root.table("keyring"))
	if compat := root.table("compat"); compat != nil {
		compat.path("oidc_agent_socket", &cfg.OIDCAgentSocket)
		compat.rejectUnknown()
	}

	if profiles := root.table("profiles"); profiles != nil {
		cfg.ProfilesExplicit = true
		for _, name := range slices.Sorted(maps.Keys(profiles.m)) {
			if p := d.profile(name, profiles.table(name)); p != nil {
				cfg.Profiles[name] = p
			}
		}
	}
	root.rejectUnknown()

	if cfg.DefaultProfile != "" && cfg.Profiles[cfg.DefaultProfile] == nil {
		d.errorf([]string{"default_profile"}, "no profile %q in this file", cfg.DefaultProfile)
	}
	return cfg
}

func (d *decoder) keyring(t *table) Keyring {
	k := Keyring{Backend: BackendAuto, Timeout: DefaultKeyringTimeout}
	if t == nil {
		t = &table{d: d, key: []string{"keyring"}, m: map[string]any{}, seen: map[string]bool{}}
	}
	t.enum("backend", &k.Backend, backends)
	if !t.path("file_dir", &k.FileDir) {
		dir, err := defaultFileDir()
		if err != nil {
			d.errorf(t.child("file_dir"), "no default: %v", err)
		}
		k.FileDir = dir
	}
	t.path("passphrase_file", &k.PassphraseFile)
	t.duration("timeout", &k.Timeout)
	t.rejectUnknown()
	return k
}

func defaultFileDir() (string, error) {
	if dir := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "authd", "keyring"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "authd", "keyring"), nil
}

func (d *decoder) profile(name string, t *table) *Profile {
	if t == nil {
		return nil // not a table: already reported
	}
	if !validProfileName(name) {
		d.errorf(t.key, "profile name must match [A-Za-z0-9_.-]+")
	}
	p := &Profile{
		Name:          name,
		Flow:          FlowAuto,
		RedirectPath:  DefaultRedirectPath,
		Timeout:       DefaultTimeout,
		LoginTimeout:  DefaultLoginTimeout,
		TokenLifetime: DefaultTokenLifetime,
	}
	errsBefore := len(d.errs)
	t.url("issuer", &p.Issuer, true)
	t.url("authorization_endpoint", &p.AuthorizationEndpoint, false)
	t.url("token_endpoint", &p.TokenEndpoint, false)
	t.url("device_authorization_endpoint", &p.DeviceAuthorizationEndpoint, false)
	t.url("revocation_endpoint", &p.RevocationEndpoint, false)
	t.str("client_id", &p.ClientID)
	t.str("client_secret", &p.ClientSecret)
	if !t.scopes("scopes", &p.Scopes) {
		p.Scopes = []string{}
		if p.Issuer != "" {
			p.Scopes = DefaultScopes()
		}
	}
	t.str("audience", &p.Audience)
	t.enum("flow", &p.Flow, flows)
	t.port("redirect_port", &p.RedirectPort)
	if t.str("redirect_path", &p.RedirectPath) {
		if msg := checkRedirectPath(p.RedirectPath); msg != "" {
			d.errorf(t.child("redirect_path"), "%s", msg)
		}
	}
	t.authParams("extra_auth_params", &p.ExtraAuthParams)
	t.boolean("auth_params_in_token_request", &p.AuthParamsInTokenRequest)
	t.file("ca_file", &p.CAFile)
	t.boolean("insecure_skip_verify", &p.InsecureSkipVerify)
	t.file("success_html", &p.SuccessHTML)
	t.file("failure_html", &p.FailureHTML)
	t.duration("timeout", &p.Timeout)
	t.duration("login_timeout", &p.LoginTimeout)
	t.duration("token_lifetime", &p.TokenLifetime)
	t.match("match", &p.Match)
	if t.str("username", &p.Username) && (p.Username == "" || strings.ContainsAny(p.Username, "\x00\r\n")) {
		t.d.errorf(t.child("username"), "must be a non-empty line")
	}
	t.rejectUnknown()

	// A missing key is reported at the line of its table, unless its value
	// or a misspelt key that stands for it is reported already.
	if p.ClientID == "" && !t.suggested["client_id"] && !d.reported(t.child("client_id"), errsBefore) {
		d.errorf(t.child("client_id"), "required")
	}
	if len(d.errs) > errsBefore {
		// The rules across keys below would misjudge a key whose value was
		// rejected (a bad issuer is not a missing one).
		return p
	}
	if p.Issuer == "" {
		if p.TokenEndpoint == "" {
			d.errorf(t.child("token_endpoint"), "required when issuer is not set")
		}
		switch {
		case p.Flow == FlowBrowser && p.AuthorizationEndpoint == "":
			d.errorf(t.child("authorization_endpoint"), `required for flow "browser" when issuer is not set`)
		case p.Flow == FlowDevice && p.DeviceAuthorizationEndpoint == "":
			d.errorf(t.child("device_authorization_endpoint"), `required for flow "device" when issuer is not set`)
		case p.Flow == FlowAuto && p.AuthorizationEndpoint == "" && p.DeviceAuthorizationEndpoint == "":
			d.errorf(t.child("authorization_endpoint"),
				`flow "auto" needs authorization_endpoint or device_authorization_endpoint when issuer is not set`)
		}
	}
	// A client_credentials profile's secret belongs in the keyring ('authc
	// login --client-secret-stdin'); client_secret here is still accepted.
	return p
}

// reported reports whether a problem of key is among d.errs[since:].
func (d *decoder) reported(key []string, since int) bool {
	k := dotted(key)
	return slices.ContainsFunc(d.errs[since:], func(e *Error) bool { return e.Key == k })
}

// table is one TOML table being decoded; it remembers the keys read so the
// rest can be reported as unknown.
type table struct {
	d         *decoder
	key       []string
	m         map[string]any
	seen      map[string]bool
	suggested map[string]bool // known keys that rejectUnknown offered for misspelt ones
}

func (t *table) child(name string) []string {
	return append(slices.Clone(t.key), name)
}

// get returns the value of name, if set.
func (t *table) get(name string) (any, bool) {
	t.seen[name] = true
	v, ok := t.m[name]
	return v, ok
}

// rejectUnknown reports the keys of t that were not read, suggesting a
// known key when one is close.
func (t *table) rejectUnknown() {
	for _, name := range slices.Sorted(maps.Keys(t.m)) {
		if t.seen[name] {
			continue
		}
		if known := closestKey(name, t.seen); known != "" {
			if t.suggested == nil {
				t.suggested = map[string]bool{}
			}
			t.suggested[known] = true
			t.d.errorf(t.child(name), "unknown key (did you mean %s?)", known)
		} else {
			t.d.errorf(t.child(name), "unknown key")
		}
	}
}

// closestKey returns the known key within two edits of name, ignoring case
// and "-" versus "_", or "".
func closestKey(name string, known map[string]bool) string {
	normalize := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	best, bestDist := "", 3
	for _, k := range slices.Sorted(maps.Keys(known)) {
		if d := editDistance(normalize(name), normalize(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func (t *table) wrongType(name, want string, v any) {
	t.d.errorf(t.child(name), "must be %s, not %s", want, typeName(v))
}

// table returns the sub-table name, or nil when it is not set or is not a
// table (which is reported).
func (t *table) table(name string) *table {
	v, ok := t.get(name)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.wrongType(name, "a table", v)
		return nil
	}
	return &table{d: t.d, key: t.child(name), m: m, seen: map[string]bool{}}
}

// str sets *dst and reports true when name is a string.
func (t *table) str(name string, dst *string) bool {
	v, ok := t.get(name)
	if !ok {
		return false
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(name, "a string", v)
		return false
	}
	*dst = s
	return true
}

func (t *table) boolean(name string, dst *bool) {
	v, ok := t.get(name)
	if !ok {
		return
	}
	b, ok := v.(bool)
	if !ok {
		t.wrongType(name, "a boolean", v)
		return
	}
	*dst = b
}

func (t *table) port(name string, dst *int) {
	v, ok := t.get(name)
	if !ok {
		return
	}
	n, ok := v.(int64)
	switch {
	case !ok:
		t.wrongType(name, "an integer", v)
	case n < 0 || n > 65535:
		t.d.errorf(t.child(name), "must be between 0 and 65535, not %d", n)
	default:
		*dst = int(n)
	}
}

func (t *table) enum(name string, dst *string, allowed []string) {
	var s string
	if !t.str(name, &s) {
		return
	}
	if !slices.Contains(allowed, s) {
		t.d.errorf(t.child(name), "must be one of %s; not %q", strings.Join(allowed, ", "), s)
		return
	}
	*dst = s
}

// durationBounds are the sensible ranges of each duration key: a value far
// outside (a 1 ns token lifetime, a timeout of centuries) is a mistake that
// would make the daemon hammer the provider or never give up.
var durationBounds = map[string][2]time.Duration{
	"timeout":        {time.Second, 10 * time.Minute},
	"login_timeout":  {10 * time.Second, 24 * time.Hour},
	"token_lifetime": {10 * time.Second, 365 * 24 * time.Hour},
}

func (t *table) duration(name string, dst *time.Duration) {
	v, ok := t.get(name)
	if !ok {
		return
	}
	s, ok := v.(string)
	if !ok {
		t.wrongType(name, `a duration string such as "30s"`, v)
		return
	}
	dur, err := time.ParseDuration(s)
	switch {
	case err != nil:
		t.d.errorf(t.child(name), "not a valid duration: %q (use a Go duration such as \"30s\" or \"5m\")", s)
	case dur <= 0:
		t.d.errorf(t.child(name), "must be positive, not %q", s)
	case dur < durationBounds[name][0]:
		t.d.errorf(t.child(name), "must be at least %s, not %q", durationBounds[name][0], s)
	case durationBounds[name][1] > 0 && dur > durationBounds[name][1]:
		t.d.errorf(t.child(name), "must be at most %s, not %q", durationBounds[name][1], s)
	default:
		*dst = dur
	}
}

// url sets *dst to an absolute http(s) URL; http only for loopback hosts.
// An issuer may not have a query either (OIDC Discovery 1.0, section 2).
func (t *table) url(name string, dst *string, issuer bool) {
	var s string
	if !t.str(name, &s) || s == "" {
		return
	}
	if msg := checkURL(s, issuer); msg != "" {
		t.d.errorf(t.child(name), "%s", msg)
		return
	}
	*dst = s
}

// CheckEndpoint applies the rules of a configured endpoint to one the
// provider announced in its discovery document: an absolute https URL, or
// http on a loopback host, without credentials or fragment.
func CheckEndpoint(s string) error {
	if msg := checkURL(s, false); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// plainPath reports whether p is a plain absolute path: segments of
// unreserved characters (RFC 3986), nothing a router or a provider could
// read as a pattern, a query or an escape, and an optional final slash.
func plainPath(p string) bool {
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	if len(segs) < 2 || segs[0] != "" {
		return false
	}
	for _, seg := range segs[1:] {
		if seg == "" || strings.IndexFunc(seg, func(r rune) bool { return !unreserved(r) }) >= 0 {
			return false
		}
	}
	return true
}

func checkRedirectPath(p string) string {
	switch {
	case !strings.HasPrefix(p, "/"):
		return `must start with "/"`
	case len(p) > 256:
		return "must be at most 256 characters"
	case p != "/" && !plainPath(p):
		return fmt.Sprintf(`must be a plain path such as "/callback" (letters, digits and . _ ~ - between slashes), not %q`, p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("must not contain %q segments", seg)
		}
	}
	return ""
}

func checkURL(s string, issuer bool) string {
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Sprintf("not a valid URL: %v", err)
	}
	switch {
	case u.Scheme == "" || u.Host == "":
		return "not a valid URL: want an absolute https URL such as https://idp.example.com"
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "must use https (http is allowed only for 127.0.0.1, localhost and [::1])"
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Sprintf("must use https, not %s", u.Scheme)
	case u.User != nil:
		return "must not contain credentials"
	case u.Fragment != "" || strings.HasSuffix(s, "#"):
		return "must not contain a fragment"
	case issuer && (u.RawQuery != "" || u.ForceQuery):
		return "must not contain a query"
	}
	return ""
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.Equal(net.IPv4(127, 0, 0, 1)) || ip.Equal(net.IPv6loopback))
}

// scopes sets *dst and reports true when name is set to a list of scope
// tokens (RFC 6749 section 3.3: no spaces, not empty).
func (t *table) scopes(name string, dst *[]string) bool {
	v, ok := t.get(name)
	if !ok {
		return false
	}
	list, ok := v.([]any)
	if !ok {
		t.wrongType(name, "an array of strings", v)
		return false
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			t.d.errorf(t.child(name), "element %d must be a string, not %s", i+1, typeName(e))
			return false
		}
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			t.d.errorf(t.child(name), "element %d is not a valid scope: %q", i+1, s)
			return false
		}
		out = append(out, s)
	}
	*dst = out
	return true
}

func (t *table) authParams(name string, dst *map[string]string) {
	params := t.table(name)
	if params == nil {
		return
	}
	out := make(map[string]string, len(params.m))
	for _, k := range slices.Sorted(maps.Keys(params.m)) {
		if slices.Contains(reservedAuthParams, k) {
			t.d.errorf(params.child(k), "reserved: authd sets this parameter itself")
			continue
		}
		var s string
		if params.str(k, &s) {
			out[k] = s
		}
	}
	*dst = out
}

// path sets *dst to name's value with "~/" expanded and made absolute
// relative to the file's directory, and reports true when name is set and
// not empty.
func (t *table) path(name string, dst *string) bool {
	var s string
	if !t.str(name, &s) || s == "" {
		return false
	}
	p, err := expandPath(t.d.dir, s)
	if err != nil {
		t.d.errorf(t.child(name), "cannot expand %q: %v", s, err)
		return false
	}
	*dst = p
	return true
}

func expandPath(dir, p string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, "~"+string(filepath.Separator)) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, p[1:]), nil
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	return filepath.Join(dir, p), nil
}

// file sets *dst to the path of the file that name names. When the
// decoder has a check (the daemon's), the file is read, bounded, and its
// content checked; else (authc) only its path is resolved.
func (t *table) file(name string, dst *string) {
	var p string
	if !t.path(name, &p) {
		return
	}
	if check := t.d.checkFile; check != nil {
		content, err := regularfile.Read(p, MaxFileSize)
		if err != nil {
			what := "template"
			if name == "ca_file" {
				what = "CA file"
			}
			t.d.errorf(t.child(name), "cannot read %s: %v", what, err)
			return
		}
		if err := check(name, p, content); err != nil {
			t.d.errorf(t.child(name), "%v", err)
			return
		}
	}
	*dst = p
}

// match sets *dst to the host names and URL prefixes of name, each checked
// by [parseMatch].
func (t *table) match(name string, dst *[]string) {
	v, ok := t.get(name)
	if !ok {
		return
	}
	list, ok := v.([]any)
	if !ok {
		t.wrongType(name, "an array of strings", v)
		return
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			t.d.errorf(t.child(name), "element %d must be a string, not %s", i+1, typeName(e))
			return
		}
		if _, err := parseMatch(s); err != nil {
			t.d.errorf(t.child(name), "element %d: %v", i+1, err)
			return
		}
		out = append(out, s)
	}
	*dst = out
}

// typeName names the TOML type of a value decoded by toml.Unmarshal.
func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "table"
	default:
		return "datetime"
	}
}

// tomlDoc decodes a document into the generic maps toml.Unmarshal gives
// (map[string]any, []any, string, int64, float64, bool and the toml date and
// time types) and records the line of every key. It exists because
// toml.Unmarshal's check for redefined keys scans every key seen so far for
// each new one, which made a file of many profiles take quadratic time;
// here each table keeps its own index. It follows the same rules as that
// check (go-toml's internal/tracker), which FuzzTOMLDoc compares it with.
type tomlDoc struct {
	p      unstable.Parser
	root   *tomlTable
	cur    *tomlTable     // the table of the last [header]
	lines  map[string]int // as in decoder.lines
	starts []int          // offset of the first byte of every line
	inList int            // > 0 in an array, whose elements have no key
}

type tomlKind uint8

const (
	tomlHeader tomlKind = iota // [a.b], or a prefix of one
	tomlDotted                 // a.b = 1 made a
	tomlArray                  // [[a]]
)

// tomlTable is a table being decoded, with what is needed to refuse its
// redefinition. For an array of tables, m and sub are its last element's.
type tomlTable struct {
	kind     tomlKind
	explicit bool // tomlHeader: defined by its own [header]
	m        map[string]any
	sub      map[string]*tomlTable // the tables among m's keys
}

func newTOMLTable(kind tomlKind, explicit bool) *tomlTable {
	return &tomlTable{kind: kind, explicit: explicit, m: map[string]any{}, sub: map[string]*tomlTable{}}
}

// tomlError is a syntax error and its line.
type tomlError struct {
	line int
	msg  string
}

func newTOMLDoc(data []byte) *tomlDoc {
	doc := &tomlDoc{root: newTOMLTable(tomlHeader, true), lines: map[string]int{}, starts: []int{0}}
	doc.cur = doc.root
	for i, c := range data {
		if c == '\n' {
			doc.starts = append(doc.starts, i+1)
		}
	}
	doc.p.Reset(data)
	return doc
}

// line is the 1-based line of offset.
func (doc *tomlDoc) line(offset uint32) int {
	n, found := slices.BinarySearch(doc.starts, int(offset))
	if found {
		n++ // the line starting at offset
	}
	return n
}

func (doc *tomlDoc) decode() *tomlError {
	var table []string
	for doc.p.NextExpression() {
		expr := doc.p.Expression()
		var err *tomlError
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			table = doc.recordKey(nil, expr.Key())
			err = doc.header(expr)
		case unstable.KeyValue:
			err = doc.keyValue(doc.cur, table, expr)
		}
		if err != nil {
			return err
		}
	}
	if err := doc.p.Error(); err != nil {
		var pe *unstable.ParserError
		if errors.As(err, &pe) {
			line := 0
			if len(pe.Highlight) > 0 {
				line = doc.line(doc.p.Range(pe.Highlight).Offset)
			}
			return &tomlError{line: line, msg: pe.Message}
		}
		return &tomlError{msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	return nil
}

// recordKey records the line of key and of its prefixes, and returns it
// with prefix in front.
func (doc *tomlDoc) recordKey(prefix []string, parts unstable.Iterator) []string {
	key := slices.Clone(prefix)
	if doc.inList > 0 {
		return key
	}
	for parts.Next() {
		n := parts.Node()
		key = append(key, string(n.Data))
		pk := pathKey(key)
		if _, seen := doc.lines[pk]; !seen {
			doc.lines[pk] = doc.line(n.Raw.Offset)
		}
	}
	return key
}

func (doc *tomlDoc) errorf(n *unstable.Node, format string, args ...any) *tomlError {
	return &tomlError{line: doc.line(n.Raw.Offset), msg: fmt.Sprintf(format, args...)}
}

// header makes the table of a [header] or [[header]] the current one.
func (doc *tomlDoc) header(expr *unstable.Node) *tomlError {
	t := doc.root
	parts := expr.Key()
	for parts.Next() {
		n := parts.Node()
		name := string(n.Data)
		next, isTable := t.sub[name]
		_, isValue := t.m[name]
		if !parts.IsLast() {
			switch {
			case isTable: // any kind of table can take a sub-table
			case isValue:
				return doc.errorf(n, "key %s already exists as a value", name)
			default:
				next = newTOMLTable(tomlHeader, false)
				t.sub[name], t.m[name] = next, next.m
			}
			t = next
			continue
		}
		if expr.Kind == unstable.ArrayTable {
			switch {
			case !isValue:
				next = newTOMLTable(tomlArray, true)
				t.sub[name], t.m[name] = next, []any{next.m}
			case isTable && next.kind == tomlArray:
				next.m, next.sub = map[string]any{}, map[string]*tomlTable{}
				t.m[name] = append(t.m[name].([]any), next.m)
			default:
				return doc.errorf(n, "key %s already exists as a %s, but should be an array table", name, kindName(next))
			}
			doc.cur = next
			return nil
		}
		switch {
		case !isValue:
			next = newTOMLTable(tomlHeader, true)
			t.sub[name], t.m[name] = next, next.m
		case !isTable:
			return doc.errorf(n, "key %s should be a table, not a value", name)
		case next.kind == tomlDotted:
			return doc.errorf(n, "table %s already exists as defined by a dotted key", name)
		case next.kind == tomlArray:
			return doc.errorf(n, "table %s already exists as an array of tables", name)
		case next.explicit:
			return doc.errorf(n, "table %s already exists", name)
		}
		next.explicit = true
		doc.cur = next
		return nil
	}
	return nil
}

// kindName names what a key holds, as go-toml's errors do.
func kindName(t *tomlTable) string {
	switch {
	case t == nil:
		return "value"
	case t.kind == tomlDotted:
		return "kv-table"
	case t.kind == tomlArray:
		return "array-table"
	}
	return "table"
}

// keyValue sets a (dotted) key of t, whose key path is table.
func (doc *tomlDoc) keyValue(t *tomlTable, table []string, kv *unstable.Node) *tomlError {
	key := doc.recordKey(table, kv.Key())
	parts := kv.Key()
	for parts.Next() {
		n := parts.Node()
		name := string(n.Data)
		next, isTable := t.sub[name]
		_, isValue := t.m[name]
		if parts.IsLast() {
			if isValue {
				return doc.errorf(n, "key %s is already defined", name)
			}
			v, err := doc.value(kv.Value(), key, n)
			if err != nil {
				return err
			}
			t.m[name] = v
			return nil
		}
		switch {
		case !isValue:
			next = newTOMLTable(tomlDotted, false)
			t.sub[name], t.m[name] = next, next.m
		case !isTable || next.kind != tomlDotted:
			return doc.errorf(n, "key %s is already defined", name)
		}
		t = next
	}
	return nil
}

// value decodes v, the value of key (whose last part is keyNode).
func (doc *tomlDoc) value(v *unstable.Node, key []string, keyNode *unstable.Node) (any, *tomlError) {
	switch v.Kind {
	case unstable.String:
		return string(v.Data), nil
	case unstable.Bool:
		return string(v.Data) == "true", nil
	case unstable.Array:
		list := []any{}
		elems := v.Children()
		doc.inList++
		defer func() { doc.inList-- }()
		for elems.Next() {
			e, err := doc.value(elems.Node(), key, keyNode)
			if err != nil {
				return nil, err
			}
			list = append(list, e)
		}
		return list, nil
	case unstable.InlineTable:
		t := newTOMLTable(tomlDotted, false)
		entries := v.Children()
		for entries.Next() {
			if err := doc.keyValue(t, key, entries.Node()); err != nil {
				return nil, err
			}
		}
		return t.m, nil
	}
	// Numbers, dates and times: toml.Unmarshal knows their rules (radix
	// prefixes, underscores, ranges, calendar dates), and decoding the one
	// value costs what it takes.
	var one struct{ V any }
	if err := toml.Unmarshal(append([]byte("V = "), v.Data...), &one); err != nil {
		var de *toml.DecodeError
		msg := err.Error()
		if errors.As(err, &de) {
			msg = de.Error()
		}
		return nil, doc.errorf(keyNode, "%s", strings.TrimPrefix(msg, "toml: "))
	}
	return one.V, nil
}
