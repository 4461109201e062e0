// Command rawclient is the bench's floor for authc: a static Go binary that
// dials a Unix socket, sends one short request, reads the whole answer (the
// bench's raw echo server sends 1 KiB and closes) and prints it.
//
//	rawclient SOCKET
package main

import (
	"io"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		os.Stderr.WriteString("usage: rawclient SOCKET\n")
		os.Exit(2)
	}
	conn, err := net.DialTimeout("unix", os.Args[1], 5*time.Second)
	if err != nil {
		os.Stderr.WriteString("rawclient: " + err.Error() + "\n")
		os.Exit(1)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("token work\n")); err != nil {
		os.Stderr.WriteString("rawclient: " + err.Error() + "\n")
		os.Exit(1)
	}
	answer, err := io.ReadAll(conn)
	if err != nil || len(answer) == 0 {
		os.Stderr.WriteString("rawclient: no answer\n")
		os.Exit(1)
	}
	os.Stdout.Write(answer)
}
