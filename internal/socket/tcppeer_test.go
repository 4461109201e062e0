//go:build linux

package socket

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"authd.dev/authd/internal/otheruser"
)

// acceptFrom listens on a loopback port, runs connect against it and
// returns the accepted connection. The kernel completes the handshake
// before Accept, so connect need not run concurrently.
func acceptFrom(t *testing.T, network, addr string, connect func(addr *net.TCPAddr)) net.Conn {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s loopback here: %v", network, err)
	}
	t.Cleanup(func() { ln.Close() })
	connect(ln.Addr().(*net.TCPAddr))
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// lookups are the ways LoopbackPeerUID may find the owner; each must give
// the same answer.
var lookups = map[string]func(net.Conn) (int, error){
	"LoopbackPeerUID": LoopbackPeerUID,
	"sock_diag":       func(c net.Conn) (int, error) { l, r := ends(c); return diagPeerUID(r, l) },
	"proc":            func(c net.Conn) (int, error) { l, r := ends(c); return procPeerUID(r, l) },
}

func ends(c net.Conn) (local, remote netip.AddrPort) {
	return c.LocalAddr().(*net.TCPAddr).AddrPort(), c.RemoteAddr().(*net.TCPAddr).AddrPort()
}

func TestLoopbackPeerUIDOwnUser(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ network, addr string }{{"tcp4", "127.0.0.1:0"}, {"tcp6", "[::1]:0"}} {
		t.Run(tt.network, func(t *testing.T) {
			c := acceptFrom(t, tt.network, tt.addr, func(addr *net.TCPAddr) {
				client, err := net.Dial(tt.network, addr.String())
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { client.Close() })
			})
			for name, lookup := range lookups {
				if uid, err := lookup(c); err != nil || uid != os.Getuid() {
					t.Errorf("%s: uid %d, err %v; want %d", name, uid, err, os.Getuid())
				}
			}
		})
	}
}

func TestLoopbackPeerUIDOtherUser(t *testing.T) {
	t.Parallel()
	var helper *otheruser.Client
	c := acceptFrom(t, "tcp4", "127.0.0.1:0", func(addr *net.TCPAddr) {
		// The helper holds the connection open until we close it.
		helper = otheruser.Dial(t, "tcp4", addr.String(), nil)
	})
	for name, lookup := range lookups {
		if uid, err := lookup(c); err != nil || uid != otheruser.UID {
			t.Errorf("%s: uid %d, err %v; want %d", name, uid, err, otheruser.UID)
		}
	}
	c.Close()
	helper.Received(t)
}

func TestLoopbackPeerUIDRefusesOtherConnections(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, err := LoopbackPeerUID(a); err == nil {
		t.Error("a pipe has no loopback peer, yet a uid was found")
	}
}

func TestScanProcNet(t *testing.T) {
	t.Parallel()
	// 127.0.0.1:40000 -> 127.0.0.1:8080 as the kernel prints it on this machine.
	lo := procHex(netip.MustParseAddr("127.0.0.1"))
	src, dst := netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:8080")
	row := func(local, remote, state, uid string) string {
		return "   1: " + local + " " + remote + " " + state + " 00000000:00000000 00:00000000 00000000 " + uid + " 0 12345 1\n"
	}
	header := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	srcS, dstS := lo+":9C40", lo+":1F90"
	for _, tt := range []struct {
		name  string
		table string
		uid   int // -1: not found
	}{
		{"match", header + row(dstS, srcS, "01", "7") + row(srcS, dstS, "01", "1000"), 1000},
		{"reversed only", header + row(dstS, srcS, "01", "7"), -1},
		{"time-wait skipped", header + row(srcS, dstS, "06", "0"), -1},
		{"time-wait then live", header + row(srcS, dstS, "06", "0") + row(srcS, dstS, "04", "33"), 33},
		{"garbage", header + "   1: zz:zz yy 01 x x x x\n" + row(srcS, dstS, "01", "-1"), -1},
		{"line too long", header + strings.Repeat("x", maxProcLine+1) + "\n" + row(srcS, dstS, "01", "5"), -1},
		{"empty", "", -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			uid, err := scanProcNet(strings.NewReader(tt.table), src, dst)
			if tt.uid >= 0 && (err != nil || uid != tt.uid) {
				t.Errorf("uid %d, err %v; want %d", uid, err, tt.uid)
			}
			if tt.uid < 0 && err == nil {
				t.Errorf("uid %d found, want none", uid)
			}
		})
	}
}

// procHex formats an IPv4 address the way /proc/net/tcp does: its four
// bytes read as a 32-bit word in host byte order.
func procHex(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("%08X", binary.NativeEndian.Uint32(b[:]))
}
