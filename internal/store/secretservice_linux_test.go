package store

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/godbus/dbus"
	"github.com/gsterjov/go-libsecret"
)

// These tests need a session bus with a Secret Service whose "login"
// collection is unlocked. scripts/with-secret-service.sh provides one:
//
//	scripts/with-secret-service.sh go test -race -run SecretService ./internal/store/
//
// They are not parallel: TestSecretServiceLocked locks the collection that
// the others use.

// testPasswordEnv holds the password of the throwaway login collection that
// scripts/with-secret-service.sh creates. Only with it do the tests lock the
// collection, since they must unlock it again: never a real user's keyring.
const testPasswordEnv = "AUTHD_TEST_SECRET_SERVICE_PASSWORD"

const loginCollectionPath = libsecret.DBusPath + "/collection/" + secretServiceCollection

func secretServiceTestOptions(t *testing.T) Options {
	t.Helper()
	if reason := sessionBusMissing(); reason != "" {
		t.Skipf("Secret Service tests need a session bus with gnome-keyring: %s; "+
			"run them with scripts/with-secret-service.sh go test -run SecretService ./internal/store/", reason)
	}
	opts := Options{Backend: "secret-service", ServiceName: uniqueServiceName()}
	k, err := Open(opts)
	switch {
	case err == nil:
		if got := k.Backend(); got != "secret-service" {
			t.Fatalf("Backend() = %q, want secret-service", got)
		}
	case os.Getenv(testPasswordEnv) != "":
		t.Fatalf("scripts/with-secret-service.sh should provide a Secret Service: %v", err)
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrLocked):
		t.Skipf("no usable Secret Service on the session bus: %v", err)
	default:
		t.Fatal(err)
	}
	return opts
}

func openTestSecretService(t *testing.T) *Keyring {
	t.Helper()
	k, err := Open(secretServiceTestOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSecretServiceContract(t *testing.T) {
	testContract(t, openTestSecretService(t))
}

func TestSecretServiceLargeRecord(t *testing.T) {
	// The Secret Service takes 100 KB in one item.
	testLargeRecord(t, openTestSecretService(t), 1)
}

func TestSecretServiceCorruptRecords(t *testing.T) {
	testCorruptRecords(t, openTestSecretService(t))
}

func TestSecretServiceItemsAreNamespaced(t *testing.T) {
	ctx := context.Background()
	opts := secretServiceTestOptions(t)
	k, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Put(ctx, "work", testRecord()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(context.Background(), "work") })

	// The item is labelled with the service name in the shared collection.
	if _, err := k.ring.Get(opts.ServiceName + ":work"); err != nil {
		t.Fatalf("no item %s:work in the login collection: %v", opts.ServiceName, err)
	}
	other := openTestSecretService(t)
	if _, err := other.Get(ctx, "work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a keyring with another service name sees the item: %v", err)
	}
	if err := other.Delete(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, "work"); err != nil {
		t.Fatalf("a Delete with another service name removed the item: %v", err)
	}
}

func TestSecretServicePickedByAuto(t *testing.T) {
	opts := secretServiceTestOptions(t)
	opts.Backend = "auto"
	k, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Backend(); got != "secret-service" {
		t.Fatalf("auto with a Secret Service picked %q", got)
	}
}

func TestSecretServiceLocked(t *testing.T) {
	ctx := context.Background()
	opts := secretServiceTestOptions(t)
	password := os.Getenv(testPasswordEnv)
	if password == "" {
		t.Skipf("locking the login collection needs %s (set by scripts/with-secret-service.sh) to unlock it again", testPasswordEnv)
	}
	k, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Put(ctx, "work", testRecord()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Delete(context.Background(), "work") })

	lockLoginCollection(t)
	t.Cleanup(func() { unlockLoginCollection(t, password) })

	checkLocked := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), `collection "login" is locked`) {
			t.Errorf("%s on a locked collection = %v, want ErrLocked saying so", what, err)
		}
	}
	_, err = k.Get(ctx, "work")
	checkLocked("Get", err)
	checkLocked("Put", k.Put(ctx, "work", testRecord()))
	checkLocked("Delete", k.Delete(ctx, "work"))
	_, err = Open(opts)
	checkLocked("Open", err)
	auto := opts
	auto.Backend = "auto"
	_, err = Open(auto) // must not fall back to keyctl
	checkLocked("Open(auto)", err)

	unlockLoginCollection(t, password)
	if _, err := k.Get(ctx, "work"); err != nil {
		t.Fatalf("Get after unlocking: %v", err)
	}
}

func lockLoginCollection(t *testing.T) {
	t.Helper()
	service, err := libsecret.NewService()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	if err := service.Lock(libsecret.NewCollection(conn, loginCollectionPath)); err != nil {
		t.Fatalf("lock the login collection: %v", err)
	}
}

// unlockLoginCollection unlocks without a prompt, through gnome-keyring's
// own interface (the Secret Service API would ask a prompter for the
// password, and there is no display).
func unlockLoginCollection(t *testing.T, password string) {
	t.Helper()
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatal(err)
	}
	service := conn.Object(libsecret.DBusServiceName, libsecret.DBusPath)
	var output dbus.Variant
	var session dbus.ObjectPath
	if err := service.Call("org.freedesktop.Secret.Service.OpenSession", 0, "plain", dbus.MakeVariant("")).
		Store(&output, &session); err != nil {
		t.Fatalf("open a Secret Service session: %v", err)
	}
	secret := libsecret.Secret{Session: session, Parameters: []byte{}, Value: []byte(password), ContentType: "text/plain"}
	if err := service.Call("org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface.UnlockWithMasterPassword", 0,
		dbus.ObjectPath(loginCollectionPath), secret).Err; err != nil {
		t.Fatalf("unlock the login collection: %v", err)
	}
}
