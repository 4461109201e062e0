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

func TestBuildOf(t *testing.T) {
	t.Parallel()
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tt := range []struct {
		name     string
		settings []debug.BuildSetting
		goVer    string
		want     string
	}{
		{"commit", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.time", Value: "2025-01-02T15:04:05Z"}, {Key: "vcs.modified", Value: "false"}}, "go1.26.8",
			"0123456789ab, 2025-01-02T15:04:05Z, go1.26.8"},
		{"dirty", []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}, "go1.26.8", "0123456789ab+dirty, go1.26.8"},
		{"no vcs", nil, "go1.26.8", "go1.26.8"},
		{"nothing", nil, "", "unknown"},
	} {
		bi := &debug.BuildInfo{GoVersion: tt.goVer, Settings: tt.settings}
		if got := buildOf(bi); got != tt.want {
			t.Errorf("%s: buildOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Compare orders releases and pseudo-versions, and refuses to order what
// says nothing about age: development builds must never warn.
func TestCompare(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b  string
		order int
		ok    bool
	}{
		{"v1.2.0", "v1.3.0", -1, true},
		{"v1.3.0", "v1.2.0", 1, true},
		{"v1.2.3", "v1.2.3", 0, true},
		{"v1.10.0", "v1.9.9", 1, true},
		{"v2.0.0", "v10.0.0", -1, true},
		{"v1.2.3-rc.1", "v1.2.3", -1, true},
		{"v1.2.3-rc.2", "v1.2.3-rc.10", -1, true},
		{"v1.2.3-alpha", "v1.2.3-1", 1, true}, // numeric identifiers are lower
		{"v1.2.3-rc", "v1.2.3-rc.1", -1, true},
		{"v1.2.3+build.5", "v1.2.3", 0, true}, // build metadata is ignored
		{"v0.0.0-20250102150405-0123456789ab", "v0.0.0-20250301000000-abcdef012345", -1, true},
		{"v1.2.4-0.20250102150405-0123456789ab", "v1.2.3", 1, true},
		{"v1.2.4-0.20250102150405-0123456789ab", "v1.2.4", -1, true},

		{"(devel)", "v1.2.3", 0, false},
		{"v1.2.3", "(devel)", 0, false},
		{"(devel)", "(devel)", 0, false},
		{"unknown", "v1.2.3", 0, false},
		{"0123456789ab (2025-01-02T15:04:05Z)", "v1.2.3", 0, false},
		{"0123456789ab+dirty (2025-01-02T15:04:05Z)", "abcdef012345 (2025-01-03T00:00:00Z)", 0, false},
		{"v0.0.0-20250102150405-0123456789ab+dirty", "v1.2.3", 0, false},
		{"test", "v1.2.3", 0, false},
		{"", "v1.2.3", 0, false},
		{"1.2.3", "v1.2.3", 0, false},
		{"v1.2", "v1.2.3", 0, false},
		{"v01.2.3", "v1.2.3", 0, false},
		{"v1.2.3-01", "v1.2.3", 0, false},
		{"v1.2.3-", "v1.2.3", 0, false},
		{"v1.2.3-a..b", "v1.2.3", 0, false},
		{"v1.2.3+", "v1.2.3", 0, false},
		{"v1.2.3\x1b[2J", "v1.2.3", 0, false},
	} {
		order, ok := Compare(tt.a, tt.b)
		if order != tt.order || ok != tt.ok {
			t.Errorf("Compare(%q, %q) = %d, %v; want %d, %v", tt.a, tt.b, order, ok, tt.order, tt.ok)
		}
	}
}

// FuzzCompare: any two strings compare without a panic, antisymmetrically.
func FuzzCompare(f *testing.F) {
	for _, s := range []string{"v1.2.3", "v1.2.3-rc.1", "v0.0.0-20250102150405-0123456789ab", "(devel)", "v1.2.3+dirty"} {
		f.Add(s, "v1.2.4")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, okab := Compare(a, b)
		ba, okba := Compare(b, a)
		if okab != okba || ab != -ba {
			t.Errorf("Compare(%q, %q) = %d, %v; Compare(%q, %q) = %d, %v", a, b, ab, okab, b, a, ba, okba)
		}
	})
}
