package main

import (
	"os"
	"strings"

	"authd.dev/authd/internal/config"
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
// set; a file that cannot be read names no profile.
func defaultProfile() string {
	cfg, err := readConfig()
	if err != nil {
		return ""
	}
	p, err := cfg.Profile("")
	if err != nil {
		return ""
	}
	return p.Name
}

// readConfig reads the configuration file the daemon reads, through the
// same reader, without the checks of the files it names (which only the
// daemon uses).
func readConfig() (*config.Config, error) {
	path, err := config.DefaultPath()
	if err != nil {
		return nil, err
	}
	return config.Load(path)
}
