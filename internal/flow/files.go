package flow

import (
	"crypto/x509"
	"errors"
	"fmt"
	"html/template"
	"path/filepath"
)

// CheckFile checks a file a profile names, as the daemon's configuration
// reader calls it (config.Reader.CheckFile): a CA bundle must hold a PEM
// certificate, a page must parse as an html/template. The checks live
// here, beside their use, so that authc reads the configuration without
// linking crypto/x509 or html/template.
func CheckFile(key, path string, content []byte) error {
	switch key {
	case "ca_file":
		if !x509.NewCertPool().AppendCertsFromPEM(content) {
			return fmt.Errorf("no PEM certificate in %s", path)
		}
	case "success_html", "failure_html":
		if _, err := template.New(filepath.Base(path)).Parse(string(content)); err != nil {
			return fmt.Errorf("not a valid html/template: %v", err)
		}
	default:
		return errors.New("no check for this key")
	}
	return nil
}
