package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	t.Parallel()
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tt := range []struct {
		name     string
		main     string
		settings []debug.BuildSetting
		want     string
	}{
		{"module version", "v1.2.3", vcs("vcs.revision", rev), "v1.2.3"},
		{"pseudo-version", "v0.0.0-20250102150405-0123456789ab+dirty", nil, "v0.0.0-20250102150405-0123456789ab+dirty"},
		{"commit", "(devel)", vcs("vcs.revision", rev, "vcs.time", "2025-01-02T15:04:05Z", "vcs.modified", "false"), "0123456789ab (2025-01-02T15:04:05Z)"},
		{"dirty commit", "", vcs("vcs.revision", rev, "vcs.time", "2025-01-02T15:04:05Z", "vcs.modified", "true"), "0123456789ab+dirty (2025-01-02T15:04:05Z)"},
		{"short revision, no time", "(devel)", vcs("vcs.revision", "abc"), "abc"},
		{"nothing recorded", "(devel)", nil, "(devel)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bi := &debug.BuildInfo{Main: debug.Module{Path: "authd.dev/authd", Version: tt.main}, Settings: tt.settings}
			if got := fromBuildInfo(bi); got != tt.want {
				t.Errorf("fromBuildInfo = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestOverrideWins(t *testing.T) {
	t.Parallel()
	if got := Version("v9.9.9"); got != "v9.9.9" {
		t.Errorf("Version(override) = %q", got)
	}
	if got := Version(""); got == "" || got == "dev" {
		t.Errorf("Version(\"\") = %q, want what the toolchain recorded", got)
	}
}
