package config

import "testing"

// TestProfilesExplicit: only a profiles table in the file, even an empty
// one, says that the file means its profiles.
func TestProfilesExplicit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, file string
		want       bool
	}{
		{"empty file", "", false},
		{"comments only", "# no profiles yet\n", false},
		{"keyring only", "[keyring]\nbackend = \"file\"\n", false},
		{"inline empty table", "profiles = {}\n", true},
		{"empty table header", "[profiles]\n", true},
		{"profiles", "[profiles.w]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n", true},
	} {
		cfg, err := Parse("/etc/authd/config.toml", []byte(tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if cfg.ProfilesExplicit != tc.want {
			t.Errorf("%s: ProfilesExplicit %v, want %v", tc.name, cfg.ProfilesExplicit, tc.want)
		}
	}
}
