package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// keyctlTestOptions returns options for a keyctl keyring of the test's own,
// removed with everything in it when the test ends.
func keyctlTestOptions(t *testing.T) Options {
	t.Helper()
	if err := probeBackend("keyctl"); err != nil {
		t.Skipf("keyctl cannot be tested here: %v", err)
	}
	name := uniqueServiceName()
	t.Cleanup(func() {
		id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", name, 0)
		if err != nil {
			return
		}
		if _, err := unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0); err != nil {
			t.Errorf("remove test keyring %s: %v", name, err)
		}
	})
	return Options{Backend: "keyctl", ServiceName: name}
}

func openTestKeyctl(t *testing.T, opts Options) *Keyring {
	t.Helper()
	k, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Backend(); got != "keyctl" {
		t.Fatalf("Backend() = %q, want keyctl", got)
	}
	return k
}

func TestKeyctlContract(t *testing.T) {
	t.Parallel()
	testContract(t, openTestKeyctl(t, keyctlTestOptions(t)))
}

func TestKeyctlLargeRecord(t *testing.T) {
	t.Parallel()
	// 100 KB does not fit a 32767-byte "user" key: four items.
	testLargeRecord(t, openTestKeyctl(t, keyctlTestOptions(t)), 4)
}

func TestKeyctlCorruptRecords(t *testing.T) {
	t.Parallel()
	testCorruptRecords(t, openTestKeyctl(t, keyctlTestOptions(t)))
}

func TestKeyctlSecondOpenSeesItems(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opts := keyctlTestOptions(t)
	first := openTestKeyctl(t, opts)
	large := testRecord()
	large.IDToken = strings.Repeat("i", 100_000)
	if err := first.Put(ctx, "work", large); err != nil {
		t.Fatal(err)
	}
	second := openTestKeyctl(t, opts)
	got, err := second.Get(ctx, "work")
	if err != nil {
		t.Fatalf("a second Open with the same service name: %v", err)
	}
	if got.IDToken != large.IDToken || got.Account != large.Account {
		t.Fatalf("the second Open read %v", got)
	}

	other := opts
	other.ServiceName = uniqueServiceName()
	defer keyctlCleanup(other.ServiceName)
	if _, err := openTestKeyctl(t, other).Get(ctx, "work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another service name sees the item: %v", err)
	}
}

func keyctlCleanup(name string) {
	if id, err := unix.KeyctlSearch(unix.KEY_SPEC_USER_KEYRING, "keyring", name, 0); err == nil {
		_, _ = unix.KeyctlInt(unix.KEYCTL_UNLINK, id, unix.KEY_SPEC_USER_KEYRING, 0, 0)
	}
}

// TestKeyctlSurvivesNewSession stands for a daemon restart: a process in a
// fresh session keyring (as a restarted user service gets) that does not
// possess the user keyring must still read what the first one stored.
func TestKeyctlSurvivesNewSession(t *testing.T) {
	t.Parallel()
	keyctlBin, err := exec.LookPath("keyctl")
	if err != nil {
		t.Skip("the keyctl command (keyutils) is needed to start a process in a new session keyring")
	}
	ctx := context.Background()
	opts := keyctlTestOptions(t)
	k := openTestKeyctl(t, opts)
	r := testRecord()
	r.IDToken = strings.Repeat("i", 40_000) // split, too
	if err := k.Put(ctx, "work", r); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, keyctlBin, "session", "-",
		os.Args[0], "-test.run=^TestKeyctlHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "AUTHD_STORE_TEST_KEYCTL_SERVICE="+opts.ServiceName)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("reading from a new session: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("account=%s idtoken=%d", r.Account, len(r.IDToken)); !strings.Contains(string(out), want) {
		t.Fatalf("the new session read something else: %s (want %s)", out, want)
	}
}

// TestKeyctlHelperProcess is TestKeyctlSurvivesNewSession's child process.
func TestKeyctlHelperProcess(t *testing.T) {
	service := os.Getenv("AUTHD_STORE_TEST_KEYCTL_SERVICE")
	if service == "" {
		t.Skip("helper process for TestKeyctlSurvivesNewSession")
	}
	k, err := Open(Options{Backend: "keyctl", ServiceName: service, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	r, err := k.Get(context.Background(), "work")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("account=%s idtoken=%d\n", r.Account, len(r.IDToken))
}

func TestAutoWithoutSessionBusPicksKeyctl(t *testing.T) {
	// t.Setenv: not parallel.
	opts := keyctlTestOptions(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	for _, backend := range []string{"", "auto"} {
		opts.Backend = backend
		k, err := Open(opts)
		if err != nil {
			t.Fatalf("Open(%q): %v", backend, err)
		}
		if got := k.Backend(); got != "keyctl" {
			t.Fatalf("Open(%q) picked %q, want keyctl", backend, got)
		}
	}
}
