package api_test

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"authd.dev/authd/api"
)

// Every reason is in the table once, with a meaning and an exit code that
// is not success, usage or a signal's.
func TestReasons(t *testing.T) {
	seen := make(map[api.Reason]bool)
	for _, ri := range api.Reasons {
		if seen[ri.Reason] {
			t.Errorf("%s is in the table twice", ri.Reason)
		}
		seen[ri.Reason] = true
		if ri.Meaning == "" || strings.Contains(ri.Meaning, "\n") {
			t.Errorf("%s: meaning %q, want one line", ri.Reason, ri.Meaning)
		}
		if ri.Exit == api.ExitOK || ri.Exit == api.ExitUsage || ri.Exit >= 128 {
			t.Errorf("%s: exit code %d", ri.Reason, ri.Exit)
		}
		if got := ri.Reason.Info(); got.Reason != ri.Reason || got.Exit != ri.Exit || !ri.Reason.Known() {
			t.Errorf("%s.Info() = %+v", ri.Reason, got)
		}
	}
	if ri := api.Reason("SOMETHING_NEWER").Info(); ri.Reason != "SOMETHING_NEWER" || ri.Exit != api.ExitError || api.Reason("SOMETHING_NEWER").Known() {
		t.Errorf("an unknown reason's info: %+v, want exit %d", ri, api.ExitError)
	}
}

// The README's table of authc's exit codes lists exactly the codes authc
// exits with: success, usage, a signal's, and those of the reasons.
func TestREADMEExitCodes(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Exit codes of authc\n")
	if !ok {
		t.Fatal(`README.md has no "## Exit codes of authc" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []int
	row := regexp.MustCompile(`(?m)^\| (\d+) \|`)
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		n, _ := strconv.Atoi(m[1])
		documented = append(documented, n)
	}
	want := []int{api.ExitOK, api.ExitUsage, api.ExitInterrupted}
	for _, ri := range api.Reasons {
		want = append(want, ri.Exit)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Equal(documented, want) {
		t.Errorf("README.md's exit codes of authc: %v; the table's: %v", documented, want)
	}
	// ExitCodes, which 'authc help' lists, has the same codes, and the
	// signals' two.
	var listed []int
	for _, e := range api.ExitCodes {
		if e.Code != api.ExitTerminated {
			listed = append(listed, e.Code)
		}
	}
	if !slices.Equal(listed, want) {
		t.Errorf("api.ExitCodes: %v; the codes authc exits with: %v", listed, want)
	}
}
