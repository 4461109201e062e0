package server_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"authd.dev/authd/client"
	"authd.dev/authd/internal/broker"
	"authd.dev/authd/internal/server"
	"authd.dev/authd/internal/socket"
)

// unacceptingListener accepts nothing until it is closed: the clients
// that connect wait in the kernel's queue, as they do on a busy daemon, or
// on one whose socket was just taken over by 'authd run --replace'.
type unacceptingListener struct {
	*net.UnixListener // its SyscallConn reaches the queue
	closed            chan struct{}
	once              sync.Once
}

func (l *unacceptingListener) Accept() (net.Conn, error) {
	<-l.closed
	return nil, net.ErrClosed
}

func (l *unacceptingListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.UnixListener.Close()
}

// queuedOn counts the connections to the socket at path that wait to be
// accepted: Linux lists them in /proc/net/unix with the listener's path,
// in state 02 (connecting) until accepted.
func queuedOn(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 8 && f[7] == path && f[5] == "02" {
			n++
		}
	}
	return n
}

// The connections waiting in the listener's queue when the server stops
// are accepted and their calls answered: none is reset.
func TestStopServesQueuedConnections(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts the queued connections in /proc/net/unix")
	}
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "authd.sock")
	ln, err := socket.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	b := broker.New(broker.Options{ConfigPath: filepath.Join(dir, "none.toml")})
	t.Cleanup(b.Close)
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, b, &unacceptingListener{UnixListener: ln.(*net.UnixListener), closed: make(chan struct{})})
	}()

	const clients = 8
	answers := make(chan error, clients)
	for range clients {
		go func() {
			c, err := client.New(client.WithSocket(path), client.WithTimeouts(20*time.Second, 20*time.Second))
			if err != nil {
				answers <- err
				return
			}
			defer c.Close()
			_, err = c.Status(context.Background())
			answers <- err
		}()
	}
	deadline := time.Now().Add(20 * time.Second)
	for queuedOn(t, path) < clients {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d clients queued after 20s", queuedOn(t, path), clients)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	for range clients {
		if err := <-answers; err != nil {
			t.Errorf("a call queued when the server stopped: %v; want its answer", err)
		}
	}
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
