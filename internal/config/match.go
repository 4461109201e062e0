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
// without a port, or a URL prefix.
type match struct {
	scheme string // "" for a bare host: any scheme
	host   string // lower case, without port
	port   string // "" for any port (a bare host without one)
	path   string // "" or a prefix ending in "/"
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
		if host == "" {
			return match{}, fmt.Errorf("%q: no host", s)
		}
		return match{host: strings.ToLower(host), port: port}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return match{}, fmt.Errorf("%q: %v", s, errors.Unwrap(err))
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return match{}, fmt.Errorf("%q: the scheme must be https or http", s)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return match{}, fmt.Errorf("%q: must be scheme://host[:port][/path], without user, query or fragment", s)
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
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host != m.host {
		return 0
	}
	if m.scheme == "" {
		if m.port != "" && m.port != port {
			return 0
		}
		if m.port != "" {
			return 2
		}
		return 1
	}
	if port == "" {
		port = defaultPort(u.Scheme)
	}
	if u.Scheme != m.scheme || port != m.port {
		return 0
	}
	path := strings.TrimSuffix(u.Path, "/") + "/"
	if !strings.HasPrefix(path, m.path) {
		return 0
	}
	return 3 + len(m.path)
}

// ProfileFor returns the profile whose match list fits target best: a URL
// (https://git.example.com/team/repo.git, a kube cluster's server) or a
// host with an optional port and path, as docker names registries
// (registry.example.com:5000/v2/). A URL prefix beats a host, a longer
// prefix a shorter one, and a host with a port one without; among equals,
// the first profile by name. ok is false when no profile matches.
func (c *Config) ProfileFor(target string) (name string, ok bool) {
	raw := target
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	best := 0
	for _, n := range slices.Sorted(maps.Keys(c.Profiles)) {
		for _, s := range c.Profiles[n].Match {
			m, err := parseMatch(s)
			if err != nil {
				continue
			}
			if sc := m.score(u); sc > best {
				best, name = sc, n
			}
		}
	}
	return name, best > 0
}
