package broker

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"authd.dev/authd/internal/config"
)

// lockedBuffer collects the log of a broker, which goroutines write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// safetyBroker starts a broker on a real file keyring with profiles a and
// b, and returns it, its config file's path, the [keyring] section and its
// log.
func safetyBroker(t *testing.T) (*Broker, string, string, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	pass := filepath.Join(dir, "passphrase")
	if err := os.WriteFile(pass, []byte("test-passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyring := fmt.Sprintf("[keyring]\nbackend = \"file\"\nfile_dir = %q\npassphrase_file = %q\n", filepath.Join(dir, "keyring"), pass)
	path := filepath.Join(dir, "config.toml")
	writeConfig(t, path, keyring+profileTOML("a", "client-a")+profileTOML("b", "client-b"))
	logs := &lockedBuffer{}
	b := New(Options{ConfigPath: path, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(b.Close)
	if b.cfgErr != nil || b.storeErr != nil {
		t.Fatalf("start: config %v, keyring %v", b.cfgErr, b.storeErr)
	}
	return b, path, keyring, logs
}

func profileTOML(name, clientID string) string {
	return fmt.Sprintf("[profiles.%s]\ntoken_endpoint = \"http://127.0.0.1:1/token\"\ndevice_authorization_endpoint = \"http://127.0.0.1:1/device\"\nclient_id = %q\n",
		name, clientID)
}

func writeConfig(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadKeepsProfilesOfEmptyFile: a file that lost every profile
// (truncated, half-written, deleted) keeps the running configuration and
// keyring; profiles = {} removes them.
func TestReloadKeepsProfilesOfEmptyFile(t *testing.T) {
	t.Parallel()
	b, path, keyring, logs := safetyBroker(t)
	st := b.store
	sa, err := b.Session("a")
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, content, want string
	}{
		{"empty", "", "has no profiles"},
		{"comments only", "# being edited\n", "has no profiles"},
		{"keyring only", keyring, "has no profiles"},
		{"deleted", "", "does not exist"},
	} {
		if tc.name == "deleted" {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		} else {
			writeConfig(t, path, tc.content)
		}
		err := b.Reload()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "profiles = {}") {
			t.Fatalf("%s: Reload: %v, want an error saying the file %s and naming profiles = {}", tc.name, err, tc.want)
		}
		if got := b.Profiles(); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("%s: profiles %v after the refused reload, want [a b]", tc.name, got)
		}
		if b.store != st || b.store.Backend() != "file" {
			t.Errorf("%s: keyring changed to %v", tc.name, b.store)
		}
		if s, err := b.Session("a"); err != nil || s != sa {
			t.Errorf("%s: session of a not kept: %v", tc.name, err)
		}
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="config not loaded"`) {
		t.Errorf("the refused reload was not logged at error:\n%s", logs)
	}

	writeConfig(t, path, "profiles = {}\n"+keyring)
	if err := b.Reload(); err != nil {
		t.Fatalf("Reload of profiles = {}: %v", err)
	}
	if got := b.Profiles(); len(got) != 0 {
		t.Errorf("profiles %v after profiles = {}, want none", got)
	}
	if _, err := b.Session("a"); err == nil {
		t.Error("session of a removed profile")
	}
	if !strings.Contains(logs.String(), `msg="config reloaded" added=[] changed=[] removed="[a b]" keyring_changed=false`) {
		t.Errorf("the reload was not logged:\n%s", logs)
	}
}

// TestReloadLogsChanges: each reload says in one line what it changed.
func TestReloadLogsChanges(t *testing.T) {
	t.Parallel()
	b, path, keyring, logs := safetyBroker(t)
	writeConfig(t, path, keyring+profileTOML("a", "client-a2")+profileTOML("c", "client-c"))
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, path, profileTOML("a", "client-a2")+profileTOML("c", "client-c"))
	if err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`msg="config reloaded" added=[c] changed=[a] removed=[b] keyring_changed=false`,
		`msg="config reloaded" added=[] changed=[] removed=[] keyring_changed=true`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs)
		}
	}
}

// helperOnly are the fields of a profile that only authc's credential
// helpers read, from the file itself: a change to them leaves the session.
var helperOnly = map[string]bool{"Match": true, "Username": true}

// TestSameProfileSeesEveryField: a setting sameProfile ignores would keep a
// session serving the old settings after a reload.
func TestSameProfileSeesEveryField(t *testing.T) {
	t.Parallel()
	base := config.Profile{Name: "p", Scopes: []string{"openid"}, ExtraAuthParams: map[string]string{"prompt": "login"}}
	typ := reflect.TypeFor[config.Profile]()
	for i := range typ.NumField() {
		if helperOnly[typ.Field(i).Name] {
			continue
		}
		mod := base
		mod.Scopes = slices.Clone(base.Scopes)
		mod.ExtraAuthParams = map[string]string{"prompt": "login"}
		if !sameProfile(&base, &mod) {
			t.Fatal("a copy differs")
		}
		f := reflect.ValueOf(&mod).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("changed")
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Int, reflect.Int64:
			f.SetInt(7)
		case reflect.Slice:
			f.Set(reflect.ValueOf([]string{"openid", "email"}))
		case reflect.Map:
			f.Set(reflect.ValueOf(map[string]string{"prompt": "consent"}))
		default:
			t.Fatalf("field %s: teach this test how to change a %s", typ.Field(i).Name, f.Kind())
		}
		if sameProfile(&base, &mod) {
			t.Errorf("sameProfile ignores %s", typ.Field(i).Name)
		}
	}
}
