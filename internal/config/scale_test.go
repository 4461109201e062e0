package config

import (
	"fmt"
	"strings"
	"testing"
)

// profilesFile is a valid file of n [profiles.pN] tables.
func profilesFile(n int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "[profiles.p%d]\nissuer = \"https://idp%d.example.com\"\nclient_id = \"client-%d\"\nscopes = [\"openid\", \"email\"]\n\n", i, i, i)
	}
	return []byte(b.String())
}

func BenchmarkParseProfiles(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		data := profilesFile(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cfg, err := Parse("/etc/authd/config.toml", data)
				if err != nil {
					b.Fatal(err)
				}
				if len(cfg.Profiles) != n {
					b.Fatalf("%d profiles, want %d", len(cfg.Profiles), n)
				}
			}
		})
	}
}

// TestParseProfilesAllocsLinear bounds the work of Parse by its
// allocations, which grow with the work and, unlike time, do not depend on
// the machine: ten times the profiles may cost about ten times the
// allocations, not a hundred.
func TestParseProfilesAllocsLinear(t *testing.T) {
	allocs := func(n int) float64 {
		data := profilesFile(n)
		return testing.AllocsPerRun(3, func() {
			if _, err := Parse("/etc/authd/config.toml", data); err != nil {
				t.Fatal(err)
			}
		})
	}
	small, large := allocs(200), allocs(2000)
	if ratio := large / small; ratio > 12 {
		t.Errorf("2000 profiles allocate %.0f times, 200 profiles %.0f: ratio %.1f, want about 10", large, small, ratio)
	}
}

// TestParseErrorLineAtScale checks the line index on a large file: a
// problem in its last profile is reported at its line.
func TestParseErrorLineAtScale(t *testing.T) {
	t.Parallel()
	const n = 3000
	data := append(profilesFile(n), "[profiles.last]\nissuer = \"https://idp.example.com\"\nclient_idd = \"x\"\n"...)
	_, err := Parse("/etc/authd/config.toml", data)
	want := fmt.Sprintf("/etc/authd/config.toml:%d: profiles.last.client_idd: unknown key (did you mean client_id?)", 5*n+3)
	if err == nil || err.Error() != want {
		t.Fatalf("Parse: %v\nwant %s", err, want)
	}
	data = append(profilesFile(n), "[profiles.p7]\n"...)
	_, err = Parse("/etc/authd/config.toml", data)
	want = fmt.Sprintf("/etc/authd/config.toml:%d: syntax error: table p7 already exists", 5*n+1)
	if err == nil || err.Error() != want {
		t.Fatalf("Parse: %v\nwant %s", err, want)
	}
}
