package wire_test

import (
	"os/exec"
	"strings"
	"testing"
)

// leanDependencies are the only packages outside the standard library the
// transport links: HPACK, without grpc-go, the protobuf runtime (protowire
// included: its internal/detrand reads the executable at every start) or
// net/http with TLS, whose package initialisation would cost every authc
// command.
var leanDependencies = map[string]bool{
	"golang.org/x/net/http2/hpack": true,
}

// TestLeanDependencies keeps the package, the client package on it and
// authc free of what the transport exists to avoid.
func TestLeanDependencies(t *testing.T) {
	t.Parallel()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go is not on PATH")
	}
	for _, pkg := range []string{
		"authd.dev/authd/client/internal/wire",
		"authd.dev/authd/client/internal/wire/internal/probe",
		"authd.dev/authd/client",
		"authd.dev/authd/cmd/authc",
	} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if leanDependencies[dep] {
				continue
			}
			if strings.HasPrefix(dep, "google.golang.org/") || strings.HasPrefix(dep, "golang.org/x/net/") ||
				dep == "net/http" || dep == "crypto/tls" || dep == "crypto/x509" {
				t.Errorf("%s depends on %s", pkg, dep)
			}
		}
	}
}
