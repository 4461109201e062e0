package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/keyring"
)

var testNow = time.Date(2030, 6, 7, 8, 9, 10, 0, time.UTC)

// newFakeKeyring returns a Keyring over an in-memory fake backend, for the
// logic that does not depend on a real keyring (timeouts, splitting, parsing).
// The real backends run the same checks in file_test.go, keyctl_linux_test.go
// and secretservice_linux_test.go.
func newFakeKeyring(itemLimit int) *Keyring {
	k := newKeyring("fake", keyring.NewArrayKeyring(nil), time.Minute)
	k.itemLimit = itemLimit
	k.now = func() time.Time { return testNow }
	return k
}

// uniqueServiceName keeps tests that share a real keyring apart.
func uniqueServiceName() string {
	return "authd-test-" + strings.ToLower(rand.Text()[:12])
}

// wantRecord is what Get should return after Put(r).
func wantRecord(r *Record, now time.Time) *Record {
	want := *r
	want.Version = RecordVersion
	want.UpdatedAt = now.UTC()
	return &want
}

func sameRecord(t *testing.T, got, want *Record) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		// Tokens in test records are fake, but keep the habit: no %s of JSON.
		t.Fatalf("stored record differs:\n got  %v\n want %v", got, want)
	}
}

// rawItem reads an item straight from the backend, bypassing the Keyring.
func rawItem(k *Keyring, key string) ([]byte, error) {
	item, err := k.ring.Get(k.keyPrefix + key)
	return item.Data, err
}

func setRawItem(t *testing.T, k *Keyring, key string, data []byte) {
	t.Helper()
	if err := k.ring.Set(keyring.Item{Key: k.keyPrefix + key, Data: data, Label: k.keyPrefix + key}); err != nil {
		t.Fatalf("set raw item %q: %v", key, err)
	}
}

// countItems counts the items a record under key occupies.
func countItems(t *testing.T, k *Keyring, key string) int {
	t.Helper()
	n := 0
	if _, err := rawItem(k, key); err == nil {
		n++
	}
	for i := 1; i <= maxChunks; i++ {
		if _, err := rawItem(k, chunkKey(key, i)); err != nil {
			break
		}
		n++
	}
	return n
}

// testContract checks what every backend must do: absent keys, round trips,
// overwrites, independent keys and idempotent deletes.
func testContract(t *testing.T, k *Keyring) {
	ctx := context.Background()
	k.now = func() time.Time { return testNow }
	const key, other = "work", "home:bob@example.com"
	t.Cleanup(func() {
		_ = k.Delete(context.Background(), key)
		_ = k.Delete(context.Background(), other)
	})

	if r, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) || r != nil {
		t.Fatalf("Get of an absent key = %v, %v; want ErrNotFound", r, err)
	}
	if err := k.Delete(ctx, key); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}

	r := testRecord()
	if err := k.Put(ctx, key, r); err != nil {
		t.Fatal(err)
	}
	got, err := k.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, wantRecord(r, testNow))

	replaced := testRecord()
	replaced.AccessToken = "at-replaced"
	replaced.Scopes = nil
	if err := k.Put(ctx, key, replaced); err != nil {
		t.Fatal(err)
	}
	if err := k.Put(ctx, other, testRecord()); err != nil {
		t.Fatal(err)
	}
	got, err = k.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, wantRecord(replaced, testNow))

	if err := k.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := k.Delete(ctx, key); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if _, err := k.Get(ctx, other); err != nil {
		t.Fatalf("deleting %q removed %q: %v", key, other, err)
	}
}

// testLargeRecord stores a record with a 100 KB ID token, checks it spans
// wantItems items, shrinks it and deletes it, and checks no part is left.
func testLargeRecord(t *testing.T, k *Keyring, wantItems int) {
	ctx := context.Background()
	k.now = func() time.Time { return testNow }
	const key = "large"
	t.Cleanup(func() { _ = k.Delete(context.Background(), key) })

	large := testRecord()
	large.IDToken = strings.Repeat("i", 100_000)
	if err := k.Put(ctx, key, large); err != nil {
		t.Fatal(err)
	}
	got, err := k.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, wantRecord(large, testNow))
	if n := countItems(t, k, key); n != wantItems {
		t.Fatalf("a 100 KB record takes %d items, want %d", n, wantItems)
	}

	small := testRecord()
	if err := k.Put(ctx, key, small); err != nil {
		t.Fatal(err)
	}
	if n := countItems(t, k, key); n != 1 {
		t.Fatalf("after replacing it with a small record, %d items are left, want 1", n)
	}
	got, err = k.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	sameRecord(t, got, wantRecord(small, testNow))

	if err := k.Put(ctx, key, large); err != nil {
		t.Fatal(err)
	}
	if err := k.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if n := countItems(t, k, key); n != 0 {
		t.Fatalf("Delete left %d items", n)
	}
	if err := k.Delete(ctx, key); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
}

// testCorruptRecords checks that what cannot be trusted is ErrCorrupt.
func testCorruptRecords(t *testing.T, k *Keyring) {
	ctx := context.Background()
	tests := []struct {
		name, data, want string
	}{
		{"invalid JSON", `{"version":1,"refresh_`, "invalid JSON"},
		{"newer version", `{"version":2,"refresh_token":"r"}`, "record version 2 is newer"},
		{"no version", `{"refresh_token":"r"}`, "no version"},
		{"bad split header", "authd-chunked/1 2 00\n{", "bad checksum"},
	}
	for i, tt := range tests {
		key := fmt.Sprintf("corrupt-%d", i)
		setRawItem(t, k, key, []byte(tt.data))
		t.Cleanup(func() { _ = k.Delete(context.Background(), key) })
		r, err := k.Get(ctx, key)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) || r != nil {
			t.Errorf("%s: Get = %v, %v; want ErrCorrupt mentioning %q", tt.name, r, err, tt.want)
		}
		if err := k.Delete(ctx, key); err != nil {
			t.Errorf("%s: Delete of a corrupt record: %v", tt.name, err)
		}
		if _, err := k.Get(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: Get after Delete: %v, want ErrNotFound", tt.name, err)
		}
	}
}

func TestFakeContract(t *testing.T) {
	t.Parallel()
	testContract(t, newFakeKeyring(0))
}

func TestFakeCorruptRecords(t *testing.T) {
	t.Parallel()
	testCorruptRecords(t, newFakeKeyring(0))
}

func TestFakeSplitRecords(t *testing.T) {
	t.Parallel()
	// 1000-byte items: the 100 KB record takes 116 of them.
	testLargeRecord(t, newFakeKeyring(1000), 116)
}

func TestSplitRecordDamage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	large := testRecord()
	large.IDToken = strings.Repeat("i", 5000)

	tests := []struct {
		name    string
		damage  func(t *testing.T, k *Keyring)
		wantErr string
	}{
		{"missing part", func(t *testing.T, k *Keyring) {
			if err := k.ring.Remove(chunkKey("work", 2)); err != nil {
				t.Fatal(err)
			}
		}, "part 3 of 7 is missing"},
		{"part from another write", func(t *testing.T, k *Keyring) {
			part, err := rawItem(k, chunkKey("work", 1))
			if err != nil {
				t.Fatal(err)
			}
			part[10] ^= 1
			setRawItem(t, k, chunkKey("work", 1), part)
		}, "do not match its checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k := newFakeKeyring(1000)
			if err := k.Put(ctx, "work", large); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, k)
			if _, err := k.Get(ctx, "work"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Get = %v, want ErrCorrupt mentioning %q", err, tt.wantErr)
			}
			if err := k.Delete(ctx, "work"); err != nil {
				t.Fatal(err)
			}
			if n := countItems(t, k, "work"); n != 0 {
				t.Fatalf("Delete of a damaged record left %d items", n)
			}
		})
	}
}

func TestDeleteRemovesPartsOfInterruptedPut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newFakeKeyring(1000)
	// A Put that died after writing the parts, before the first item.
	setRawItem(t, k, chunkKey("work", 1), []byte("part one"))
	setRawItem(t, k, chunkKey("work", 2), []byte("part two"))
	if err := k.Delete(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if _, err := rawItem(k, chunkKey("work", i)); !errors.Is(err, keyring.ErrKeyNotFound) {
			t.Errorf("part %d left behind: %v", i, err)
		}
	}
}

func TestConcurrentPutAndGetNeverSeeTornRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newFakeKeyring(1000)
	records := make([]*Record, 4)
	for i := range records {
		records[i] = testRecord()
		records[i].IDToken = strings.Repeat(string(rune('a'+i)), 3000+1000*i)
	}
	if err := k.Put(ctx, "work", records[0]); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				if w%2 == 0 {
					if err := k.Put(ctx, "work", records[(w+i)%len(records)]); err != nil {
						errs <- err
					}
					continue
				}
				if _, err := k.Get(ctx, "work"); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestInvalidKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := newFakeKeyring(0)
	for _, key := range []string{"", "work#1", "a/b", `a\b`, "a\nb", "a\x00b"} {
		if _, err := k.Get(ctx, key); err == nil || errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want an invalid key error", key, err)
		}
		if err := k.Put(ctx, key, testRecord()); err == nil {
			t.Errorf("Put(%q) succeeded, want an invalid key error", key)
		}
		if err := k.Delete(ctx, key); err == nil {
			t.Errorf("Delete(%q) succeeded, want an invalid key error", key)
		}
	}
	if err := k.Put(ctx, "work", nil); err == nil {
		t.Error("Put of a nil record succeeded")
	}
}

// blockingKeyring is a backend whose Get hangs until released, like a
// Secret Service waiting on a prompt nobody answers.
type blockingKeyring struct {
	keyring.Keyring
	entered chan struct{}
	release chan struct{}
}

func newBlockingKeyring(t *testing.T) *blockingKeyring {
	b := &blockingKeyring{
		Keyring: keyring.NewArrayKeyring(nil),
		entered: make(chan struct{}, 100),
		release: make(chan struct{}),
	}
	t.Cleanup(func() { close(b.release) })
	return b
}

func (b *blockingKeyring) Get(key string) (keyring.Item, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.Keyring.Get(key)
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	backend := newBlockingKeyring(t)
	k := newKeyring("slow", backend, 20*time.Millisecond)

	_, err := k.Get(context.Background(), "work")
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on a hung backend = %v, want ErrTimeout", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `slow: get "work"`) || !strings.Contains(msg, "timed out after 20ms") {
		t.Errorf("timeout error %q does not name the operation and the timeout", msg)
	}

	// The hung call still runs: the next call waits for it, not beside it.
	<-backend.entered
	err = k.Put(context.Background(), "home", testRecord())
	if !errors.Is(err, ErrTimeout) || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("Put while a call hangs = %v, want ErrTimeout saying an earlier call is still running", err)
	}
	if n := len(backend.entered); n != 0 {
		t.Fatalf("the backend was entered again while a call hung: calls must not overlap")
	}
	if _, err := backend.Keyring.Get("home"); !errors.Is(err, keyring.ErrKeyNotFound) {
		t.Fatalf("the timed-out Put reached the backend: %v", err)
	}
}

func TestTimeoutReleasedCallLetsOthersThrough(t *testing.T) {
	t.Parallel()
	backend := &blockingKeyring{
		Keyring: keyring.NewArrayKeyring(nil),
		entered: make(chan struct{}, 100),
		release: make(chan struct{}),
	}
	k := newKeyring("slow", backend, 20*time.Millisecond)
	if _, err := k.Get(context.Background(), "work"); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Get on a hung backend = %v, want ErrTimeout", err)
	}
	close(backend.release) // the hung call returns on its own
	k.timeout = time.Minute
	if err := k.Put(context.Background(), "work", testRecord()); err != nil {
		t.Fatalf("Put after the hung call returned: %v", err)
	}
	if _, err := k.Get(context.Background(), "work"); err != nil {
		t.Fatalf("Get after the hung call returned: %v", err)
	}
}

func TestCallerDeadlineAndCancel(t *testing.T) {
	t.Parallel()
	k := newKeyring("slow", newBlockingKeyring(t), time.Hour)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := k.Get(ctx, "work")
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "caller's deadline") {
		t.Fatalf("Get past the caller's deadline = %v, want ErrTimeout naming the caller's deadline", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	_, err = k.Get(ctx, "work")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("Get with a canceled context = %v, want context.Canceled and not ErrTimeout", err)
	}
}

func TestPanickingBackendIsAnError(t *testing.T) {
	t.Parallel()
	k := newKeyring("broken", panickingKeyring{}, time.Minute)
	if _, err := k.Get(context.Background(), "work"); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("Get on a panicking backend = %v, want an error", err)
	}
	if _, err := k.Get(context.Background(), "work"); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("second Get = %v: a panic must release the backend", err)
	}
}

type panickingKeyring struct{ keyring.Keyring }

func (panickingKeyring) Get(string) (keyring.Item, error) { panic("unexpected D-Bus reply") }

func TestOpenUnknownBackend(t *testing.T) {
	t.Parallel()
	_, err := Open(Options{Backend: "plaintext"})
	if err == nil || !strings.Contains(err.Error(), `unknown backend "plaintext"`) {
		t.Fatalf("Open(plaintext) = %v, want an unknown backend error", err)
	}
}

func TestAutoNeverFallsBackToFile(t *testing.T) {
	// Replaces autoBackendsFunc: not parallel.
	defer func(saved func() ([]string, string)) { autoBackendsFunc = saved }(autoBackendsFunc)
	autoBackendsFunc = func() ([]string, string) {
		// Keychain is never there in these tests (and on macOS, this
		// test is about the message, not the machine).
		return []string{"keychain"}, "secret-service and kwallet skipped: no session bus"
	}
	dir := t.TempDir()
	k, err := Open(Options{FileDir: dir, Passphrase: "would work"})
	if err == nil {
		if k.Backend() == "keychain" {
			t.Skip("a real keychain is available")
		}
		t.Fatalf("auto opened %q", k.Backend())
	}
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("auto with nothing available = %v, want ErrUnavailable", err)
	}
	for _, want := range []string{`keyring.backend = "keyctl"`, `"file" with a passphrase`, "no session bus", "keychain"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("auto wrote to the file backend's directory: %v", entries)
	}
}
