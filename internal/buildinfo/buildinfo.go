// Package buildinfo names the version of the running authd or authc binary,
// from what the Go toolchain recorded in it: [Version] and [Build]; and
// [Compare] tells whether two versions say anything about which is newer.
package buildinfo

import (
	"cmp"
	"runtime/debug"
	"strings"
)

// Version returns override when it is set (a release build's -ldflags
// "-X main.version=v1.2.3"), else the version the Go toolchain recorded:
// the main module's version (go install of a tagged release), else the
// commit the binary was built from, its time, and "+dirty" when the work
// tree had changes. It is "unknown" when nothing was recorded.
func Version(override string) string {
	if override != "" {
		return override
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return fromBuildInfo(bi)
}

func fromBuildInfo(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, at, dirty := vcsOf(bi)
	if rev == "" {
		// go run, go test, or a build outside version control.
		return "(devel)"
	}
	var b strings.Builder
	b.WriteString(rev[:min(len(rev), 12)])
	if dirty {
		b.WriteString("+dirty")
	}
	if at != "" {
		b.WriteString(" (" + at + ")")
	}
	return b.String()
}

// vcsOf is the commit bi was built from, its time, and whether the work
// tree had changes; empty when the toolchain recorded none (go run, go
// test, a build outside version control or with -buildvcs=false).
func vcsOf(bi *debug.BuildInfo) (rev, at string, dirty bool) {
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	return rev, at, dirty
}

// Build describes how the binary was built: the commit (with "+dirty" when
// the work tree had changes) and its time, when the toolchain recorded
// them, and the Go version; "unknown" when nothing was recorded.
func Build() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	return buildOf(bi)
}

func buildOf(bi *debug.BuildInfo) string {
	rev, at, dirty := vcsOf(bi)
	var parts []string
	if rev != "" {
		rev = rev[:min(len(rev), 12)]
		if dirty {
			rev += "+dirty"
		}
		parts = append(parts, rev)
	}
	if at != "" {
		parts = append(parts, at)
	}
	if bi.GoVersion != "" {
		parts = append(parts, bi.GoVersion)
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, ", ")
}

// Compare orders two versions that [Version] returned: -1 when a is older
// than b, 0 when they are the same, +1 when a is newer. ok is false when
// the two say nothing about which is newer: either is a development build
// ("(devel)", a commit, "unknown", anything with "+dirty") or no semantic
// version at all. Pseudo-versions (a go install of a commit) compare by
// their time, as Go orders them. Build metadata ("+...") is ignored.
func Compare(a, b string) (order int, ok bool) {
	va, oka := parseSemver(a)
	vb, okb := parseSemver(b)
	if !oka || !okb {
		return 0, false
	}
	for i := range 3 {
		if c := compareNumbers(va.core[i], vb.core[i]); c != 0 {
			return c, true
		}
	}
	return comparePrerelease(va.pre, vb.pre), true
}

// semver is a parsed vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
type semver struct {
	core [3]string // digits without leading zeros
	pre  []string  // the prerelease's dot-separated identifiers
}

func parseSemver(v string) (semver, bool) {
	var sv semver
	rest, ok := strings.CutPrefix(v, "v")
	if !ok {
		return sv, false
	}
	rest, build, hasBuild := strings.Cut(rest, "+")
	if hasBuild && (build == "" || strings.Contains(build, "dirty")) {
		// A build from a tree with changes: its version names the commit
		// it started from, not what it runs.
		return sv, false
	}
	rest, pre, hasPre := strings.Cut(rest, "-")
	nums := strings.Split(rest, ".")
	if len(nums) != 3 {
		return sv, false
	}
	for i, n := range nums {
		if !isNumber(n) {
			return sv, false
		}
		sv.core[i] = n
	}
	if hasPre {
		sv.pre = strings.Split(pre, ".")
		for _, id := range sv.pre {
			if !isIdentifier(id) || allDigits(id) && !isNumber(id) {
				return sv, false
			}
		}
	}
	return sv, true
}

// isNumber reports whether s is a number as semver writes one: digits,
// without a leading zero.
func isNumber(s string) bool {
	return allDigits(s) && (len(s) == 1 || s[0] != '0')
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

func isIdentifier(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return false
		}
	}
	return s != ""
}

// compareNumbers compares two numbers of any length.
func compareNumbers(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// comparePrerelease orders prereleases as semver 2.0.0 does: none is
// newer than any; numeric identifiers are below alphanumeric ones.
func comparePrerelease(a, b []string) int {
	switch {
	case len(a) == 0 && len(b) == 0:
		return 0
	case len(a) == 0:
		return 1
	case len(b) == 0:
		return -1
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		na, nb := isNumber(a[i]), isNumber(b[i])
		var c int
		switch {
		case na && nb:
			c = compareNumbers(a[i], b[i])
		case na:
			c = -1
		case nb:
			c = 1
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}
