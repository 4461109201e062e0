package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"
)

// A match is one element of a profile's match list: a host, with or
// without a port, or a URL prefix. A bare host stands for https on its
// port (443 unless given): a token is never handed to plain http, or to
// another service of the host, unless a URL prefix says so.
type match struct {
	scheme string // https or http
	host   string // lower case, without port
	port   string // the port, the scheme's default when not given
	path   string // "" or a prefix ending in "/"
	bare   bool   // written as a host, not a URL
}

// parseMatch checks one element of a match list.
func parseMatch(s string) (match, error) {
	if s == "" || strings.ContainsAny(s, " \t\r\n\x00") {
		return match{}, errors.New("must be a host or URL without spaces")
	}
	if !strings.Contains(s, "://") {
		if strings.ContainsAny(s, "/?#@") {
			return match{}, fmt.Errorf("%q: a URL prefix needs its scheme (https://%s)", s, s)
		}
		host, port := splitHostPort(s)
		if !validHost(host) {
			return match{}, fmt.Errorf("%q: not a host name or IP address", s)
		}
		if port == "" {
			port = defaultPort("https")
		}
		return match{scheme: "https", host: strings.ToLower(host), port: port, bare: true}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return match{}, fmt.Errorf("%q: %v", s, errors.Unwrap(err))
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return match{}, fmt.Errorf("%q: the scheme must be https or http", s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || !validHost(u.Hostname()) {
		return match{}, fmt.Errorf("%q: must be scheme://host[:port][/path], without user, query or fragment", s)
	}
	if !plainURLPath(u) {
		return match{}, fmt.Errorf("%q: the path must have no . or .. segments and no escaped /", s)
	}
	m := match{scheme: u.Scheme, host: strings.ToLower(u.Hostname()), port: u.Port()}
	if m.port == "" {
		m.port = defaultPort(u.Scheme)
	}
	if p := strings.TrimSuffix(u.Path, "/"); p != "" {
		m.path = p + "/"
	}
	return m, nil
}

// validHost reports whether h is a DNS name (letters, digits, '-', '.',
// '_') or an IP address: nothing a URL parser could read otherwise.
func validHost(h string) bool {
	if h == "" {
		return false
	}
	if net.ParseIP(strings.Trim(h, "[]")) != nil {
		return true
	}
	return strings.IndexFunc(h, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_')
	}) < 0
}

// plainURLPath reports whether u's path has no dot segments and no escaped
// slash: a prefix compared against it means what it says.
func plainURLPath(u *url.URL) bool {
	if strings.Contains(strings.ToLower(u.EscapedPath()), "%2f") || strings.Contains(u.EscapedPath(), "%5C") || strings.Contains(u.EscapedPath(), "%5c") {
		return false
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.Contains(u.Path, "\\")
}

func splitHostPort(s string) (host, port string) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p
	}
	return strings.Trim(s, "[]"), ""
}

func defaultPort(scheme string) string {
	if scheme == "http" {
		return "80"
	}
	return "443"
}

// score is how well m matches u: 0 for not at all, more for a closer match
// (a URL prefix beats a host, a longer prefix a shorter one).
func (m match) score(u *url.URL) int {
	port := u.Port()
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	if strings.ToLower(u.Hostname()) != m.host || u.Scheme != m.scheme || port != m.port {
		return 0
	}
	if m.bare {
		return 1
	}
	path := strings.TrimSuffix(u.Path, "/") + "/"
	if !strings.HasPrefix(path, m.path) {
		return 0
	}
	return 2 + len(m.path)
}

// ProfileFor returns the profile whose match list fits target best: a URL
// (https://git.example.com/team/repo.git, a kube cluster's server) or a
// host with an optional port and path, as docker names registries
// (registry.example.com:5000/v2/), which stands for https. A URL prefix
// beats a host, a longer prefix a shorter one; among equals, the first
// profile by name. ok is false when no profile matches, and for a target
// that is no plain http(s) URL: with user info, a query or fragment, a
// host that is no DNS name or IP address, dot segments or an escaped
// slash in its path. Targets come from tools and remotes, not the user.
func (c *Config) ProfileFor(target string) (name string, ok bool) {
	u, ok := parseTarget(target)
	if !ok {
		return "", false
	}
	best := 0
	for _, n := range slices.Sorted(maps.Keys(c.Profiles)) {
		if sc := c.Profiles[n].score(u); sc > best {
			best, name = sc, n
		}
	}
	return name, best > 0
}

// Matches reports whether p's match list names target (see
// [Config.ProfileFor]).
func (p *Profile) Matches(target string) bool {
	u, ok := parseTarget(target)
	return ok && p.score(u) > 0
}

// SecureTarget reports whether target is an https URL or host that
// [Config.ProfileFor] would consider: where a profile named by hand (-p)
// and without a match list may send its token.
func SecureTarget(target string) bool {
	u, ok := parseTarget(target)
	return ok && u.Scheme == "https"
}

func (p *Profile) score(u *url.URL) int {
	best := 0
	for _, s := range p.Match {
		m, err := parseMatch(s)
		if err != nil {
			continue
		}
		best = max(best, m.score(u))
	}
	return best
}

// parseTarget parses a target of ProfileFor, refusing what is no plain
// http(s) URL (see there).
func parseTarget(target string) (*url.URL, bool) {
	raw := target
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") ||
		u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#") ||
		!validHost(u.Hostname()) || !plainURLPath(u) {
		return nil, false
	}
	return u, true
}

// ValidHostPort reports whether s is a host name or IP address with an
// optional numeric port, and nothing else: what a credential helper takes
// for the host part of a target, before joining it into a URL.
func ValidHostPort(s string) bool {
	if strings.ContainsAny(s, "/@?#\\ ") {
		return false
	}
	host, port := splitHostPort(s)
	for _, r := range port {
		if r < '0' || r > '9' {
			return false
		}
	}
	return validHost(host)
}
