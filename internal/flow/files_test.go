package flow_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"authd.dev/authd/internal/config"
	"authd.dev/authd/internal/flow"
)

// TestReaderChecksFiles checks the daemon's reading of the configuration:
// the files a profile names are read, bounded, and checked by CheckFile,
// and each problem is the file's, at its key's line.
func TestReaderChecksFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	writeTestFile(t, dir, "ca.pem", testCAPEM(t))
	writeTestFile(t, dir, "not-a-cert.pem", "hello\n")
	writeTestFile(t, dir, "ok.html", "<h1>{{.Profile}}</h1>")
	writeTestFile(t, dir, "bad.html", "<h1>{{.Profile</h1>")
	const work = "[profiles.work]\nissuer = \"https://idp.example.com\"\nclient_id = \"c\"\n"
	tests := []struct {
		name, data, want string // want "" means valid
	}{
		{"valid", work + "ca_file = \"ca.pem\"\nsuccess_html = \"ok.html\"\nfailure_html = \"" + filepath.Join(dir, "ok.html") + "\"", ""},
		{"no PEM", work + "ca_file = \"not-a-cert.pem\"", "4: profiles.work.ca_file: no PEM certificate in " + filepath.Join(dir, "not-a-cert.pem")},
		{"bad template", work + "failure_html = \"bad.html\"",
			`4: profiles.work.failure_html: not a valid html/template: template: bad.html:1: bad character U+003C '<'`},
		{"ca_file device", work + "ca_file = \"/dev/zero\"", "4: profiles.work.ca_file: cannot read CA file: /dev/zero: not a regular file (a device)"},
		{"template device", work + "success_html = \"/dev/zero\"", "4: profiles.work.success_html: cannot read template: /dev/zero: not a regular file (a device)"},
		{"ca_file missing", work + "ca_file = \"missing.pem\"", "4: profiles.work.ca_file: cannot read CA file: open " + filepath.Join(dir, "missing.pem") + ": no such file or directory"},
		{"template is a directory", work + "success_html = \".\"",
			"4: profiles.work.success_html: cannot read template: " + dir + ": not a regular file (a directory)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Reader{CheckFile: flow.CheckFile}.Parse(path, []byte(tt.data))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				p := cfg.Profiles["work"]
				if p.CAFile != filepath.Join(dir, "ca.pem") || p.SuccessHTML != filepath.Join(dir, "ok.html") || p.FailureHTML != filepath.Join(dir, "ok.html") {
					t.Errorf("paths not resolved against the config's directory: %#v", *p)
				}
				return
			}
			if err == nil || err.Error() != path+":"+tt.want {
				t.Errorf("error:\n got %v\nwant %s", err, path+":"+tt.want)
			}
		})
	}
}

func writeTestFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// testCAPEM returns a self-signed certificate in PEM form.
func testCAPEM(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Unix(0, 0).Add(100 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
