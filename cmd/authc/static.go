package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"authd.dev/authd/internal/regularfile"
)

// Static tokens in the environment (as GH_TOKEN): AUTHD_TOKEN_<PROFILE> for
// one profile, AUTHD_TOKEN for any. They are printed as they are, without
// the daemon: for CI jobs and containers that are handed a token.
const staticTokenEnv = "AUTHD_TOKEN"

// staticTokenVar names the variable that overrides profile.
func staticTokenVar(profile string) string {
	var b strings.Builder
	b.WriteString(staticTokenEnv + "_")
	for _, r := range strings.ToUpper(profile) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// staticToken returns the environment's token for profile ("" for the
// default one) and the variable it came from, or "" when none applies.
func staticToken(profile string) (token, from string) {
	if profile == "" && hasProfileTokens() {
		profile = defaultProfile()
	}
	if profile != "" {
		name := staticTokenVar(profile)
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return v, name
		}
	}
	if v := strings.TrimSpace(os.Getenv(staticTokenEnv)); v != "" {
		return v, staticTokenEnv
	}
	return "", ""
}

func hasProfileTokens() bool {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, staticTokenEnv+"_") {
			return true
		}
	}
	return false
}

// defaultProfile reads the default profile's name from the config file, for
// AUTHD_TOKEN_<PROFILE> without -p. It is read only when such a variable is
// set, and with a bare TOML decoder: the config package's validation links
// crypto and templates that every 'authc token' would pay for at start-up.
func defaultProfile() string {
	path := os.Getenv("AUTHD_CONFIG")
	if path == "" {
		dir, err := os.UserConfigDir()
		if xdg := os.Getenv("XDG_CONFIG_HOME"); xdg != "" {
			dir, err = xdg, nil
		}
		if err != nil {
			return ""
		}
		path = filepath.Join(dir, "authd", "config.toml")
	}
	// The same bounded read as the daemon's: a FIFO here must not hang
	// every 'authc token'.
	data, err := regularfile.Read(path, 16<<20) // config.MaxConfigSize, without linking config
	if err != nil {
		return ""
	}
	var cfg struct {
		DefaultProfile string                    `toml:"default_profile"`
		Profiles       map[string]map[string]any `toml:"profiles"`
	}
	if toml.Unmarshal(data, &cfg) != nil {
		return ""
	}
	if cfg.DefaultProfile == "" && len(cfg.Profiles) == 1 {
		for name := range cfg.Profiles {
			return name
		}
	}
	return cfg.DefaultProfile
}
