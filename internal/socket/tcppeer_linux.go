package socket

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// LoopbackPeerUID returns the uid that owns the other end of an accepted
// loopback TCP connection. TCP carries no credentials, so it asks the
// kernel which socket has our remote address as its local one and our
// local address as its remote one: by an exact-match sock_diag query, or,
// where sock_diag is not available, from /proc/net/tcp and /proc/net/tcp6.
func LoopbackPeerUID(c net.Conn) (uid int, err error) {
	local, remote, err := loopbackEnds(c)
	if err != nil {
		return -1, err
	}
	uid, derr := diagPeerUID(remote, local)
	if derr == nil {
		return uid, nil
	}
	uid, perr := procPeerUID(remote, local)
	if perr == nil {
		return uid, nil
	}
	return -1, fmt.Errorf("owner of %s: %w", remote, errors.Join(derr, perr))
}

// loopbackEnds returns both addresses of a TCP connection between loopback addresses.
func loopbackEnds(c net.Conn) (local, remote netip.AddrPort, err error) {
	l, lok := c.LocalAddr().(*net.TCPAddr)
	r, rok := c.RemoteAddr().(*net.TCPAddr)
	if !lok || !rok {
		return local, remote, fmt.Errorf("peer uid: not a TCP connection (%T)", c)
	}
	local, remote = l.AddrPort(), r.AddrPort()
	if !local.Addr().Unmap().IsLoopback() || !remote.Addr().Unmap().IsLoopback() {
		return local, remote, fmt.Errorf("peer uid: %s is not a loopback connection", remote)
	}
	return local, remote, nil
}

// Sizes and offsets of the sock_diag structures (linux/inet_diag.h), which
// x/sys/unix does not define.
const (
	sizeofSockID     = 48 // struct inet_diag_sockid
	sizeofDiagReqV2  = 8 + sizeofSockID
	sizeofDiagMsg    = 4 + sizeofSockID + 20 // struct inet_diag_msg
	diagMsgUIDOffset = 4 + sizeofSockID + 12
	tcpTimeWait      = 6 // a TIME_WAIT socket reports uid 0, whoever owned it
)

// diagTimeout bounds the wait for the kernel's answer.
const diagTimeout = 2 * time.Second

// diagPeerUID asks sock_diag for the TCP socket whose local end is src and
// whose remote end is dst.
func diagPeerUID(src, dst netip.AddrPort) (int, error) {
	family := uint8(unix.AF_INET6)
	if src.Addr().Is4() || src.Addr().Is4In6() {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return -1, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	tv := unix.NsecToTimeval(diagTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return -1, fmt.Errorf("sock_diag: %w", err)
	}

	const seq = 1
	req := make([]byte, unix.SizeofNlMsghdr+sizeofDiagReqV2)
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(len(req)))
	ne.PutUint16(req[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(req[8:], seq)
	r := req[unix.SizeofNlMsghdr:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], ^uint32(0)) // every state
	putSockID(r[8:], family, src, dst)

	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return -1, fmt.Errorf("sock_diag: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return -1, fmt.Errorf("sock_diag: %w", err)
		}
		if nl, ok := from.(*unix.SockaddrNetlink); !ok || nl.Pid != 0 {
			continue // only the kernel answers
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return -1, fmt.Errorf("sock_diag: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := int32(ne.Uint32(m.Data)); errno < 0 {
						return -1, fmt.Errorf("sock_diag: %w", unix.Errno(-errno))
					}
				}
				return -1, errors.New("sock_diag: no socket in the answer")
			case unix.SOCK_DIAG_BY_FAMILY:
				return diagMsgUID(m.Data, src, dst)
			}
		}
	}
}

// putSockID fills a struct inet_diag_sockid for an exact match.
func putSockID(b []byte, family uint8, src, dst netip.AddrPort) {
	binary.BigEndian.PutUint16(b[0:], src.Port())
	binary.BigEndian.PutUint16(b[2:], dst.Port())
	copy(b[4:20], diagAddr(family, src.Addr()))
	copy(b[20:36], diagAddr(family, dst.Addr()))
	// b[36:40] interface 0: any.
	binary.NativeEndian.PutUint32(b[40:], ^uint32(0)) // INET_DIAG_NOCOOKIE
	binary.NativeEndian.PutUint32(b[44:], ^uint32(0))
}

func diagAddr(family uint8, a netip.Addr) []byte {
	if family == unix.AF_INET {
		b := a.Unmap().As4()
		return b[:]
	}
	b := a.As16()
	return b[:]
}

// diagMsgUID reads the uid from a struct inet_diag_msg, after checking that
// the kernel answered for the very socket asked about. An IPv6 socket
// connected to an IPv4 address answers in IPv4-mapped form.
func diagMsgUID(m []byte, src, dst netip.AddrPort) (int, error) {
	if len(m) < sizeofDiagMsg {
		return -1, errors.New("sock_diag: short answer")
	}
	id := m[4 : 4+sizeofSockID]
	addr := func(b []byte) netip.Addr {
		if m[0] == unix.AF_INET {
			return netip.AddrFrom4([4]byte(b[:4]))
		}
		return netip.AddrFrom16([16]byte(b[:16])).Unmap()
	}
	gotSrc := netip.AddrPortFrom(addr(id[4:20]), binary.BigEndian.Uint16(id[0:]))
	gotDst := netip.AddrPortFrom(addr(id[20:36]), binary.BigEndian.Uint16(id[2:]))
	if gotSrc != unmapped(src) || gotDst != unmapped(dst) {
		return -1, fmt.Errorf("sock_diag: the answer is for %s -> %s", gotSrc, gotDst)
	}
	if m[1] == tcpTimeWait {
		return -1, errors.New("sock_diag: the peer socket is closed")
	}
	return int(binary.NativeEndian.Uint32(m[diagMsgUIDOffset:])), nil
}

// Bounds on reading /proc/net/tcp*: a row is about 150 bytes, and a busy
// host has many.
const (
	maxProcLine = 512
	maxProcRows = 1 << 20
)

// procPeerUID finds the socket from src to dst in /proc/net/tcp and /proc/net/tcp6.
func procPeerUID(src, dst netip.AddrPort) (int, error) {
	var errs []error
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, err := scanProcNet(f, src, dst)
		f.Close()
		if err == nil {
			return uid, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return -1, errors.Join(errs...)
}

var errNoRow = errors.New("no such connection")

// scanProcNet streams a /proc/net/tcp table, one row at a time.
func scanProcNet(r io.Reader, src, dst netip.AddrPort) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, maxProcLine), maxProcLine)
	for rows := 0; sc.Scan(); rows++ {
		if rows > maxProcRows {
			return -1, fmt.Errorf("more than %d rows", maxProcRows)
		}
		// sl local rem st queues timer retrnsmt uid ...
		f := bytes.Fields(sc.Bytes())
		if len(f) < 8 || rows == 0 {
			continue
		}
		local, lerr := parseProcAddr(f[1])
		remote, rerr := parseProcAddr(f[2])
		if lerr != nil || rerr != nil || local != unmapped(src) || remote != unmapped(dst) {
			continue
		}
		if st, err := strconv.ParseUint(string(f[3]), 16, 8); err != nil || st == tcpTimeWait {
			continue
		}
		uid, err := strconv.Atoi(string(f[7]))
		if err != nil || uid < 0 {
			return -1, fmt.Errorf("bad uid %q", f[7])
		}
		return uid, nil
	}
	if err := sc.Err(); err != nil {
		return -1, err
	}
	return -1, errNoRow
}

func unmapped(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// parseProcAddr parses "0100007F:1F90": the address as the kernel's 32-bit
// words in host byte order, the port in hex.
func parseProcAddr(s []byte) (netip.AddrPort, error) {
	addrHex, portHex, ok := bytes.Cut(s, []byte(":"))
	if !ok || (len(addrHex) != 8 && len(addrHex) != 32) {
		return netip.AddrPort{}, errors.New("bad address")
	}
	raw := make([]byte, len(addrHex)/2)
	if _, err := hex.Decode(raw, addrHex); err != nil {
		return netip.AddrPort{}, err
	}
	for i := 0; i < len(raw); i += 4 {
		binary.NativeEndian.PutUint32(raw[i:], binary.BigEndian.Uint32(raw[i:]))
	}
	port, err := strconv.ParseUint(string(portHex), 16, 16)
	if err != nil {
		return netip.AddrPort{}, err
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}
