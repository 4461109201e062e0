// Package buildinfo names the version of the running authd or authc binary,
// from what the Go toolchain recorded in it.
package buildinfo

import (
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
	var rev, at string
	var dirty bool
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
