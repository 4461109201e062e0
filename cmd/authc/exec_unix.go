//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// execCommand replaces authc with the program at path: CMD keeps authc's
// process id, its stdin, stdout and stderr, and so gets every signal sent
// to authc, exactly once (a forwarding parent would hand a Ctrl-C to CMD
// twice, from the terminal and from itself, and leave CMD behind when it
// is killed), and its exit status is the caller's to see. It returns only
// when the exec fails.
func execCommand(path string, argv, env []string) *exitError {
	// main's handler of SIGINT and SIGTERM steps aside: what those signals
	// do in CMD is what they did when authc started (SIG_IGN in a
	// background job or under nohup stays ignored, as the Go runtime
	// restores it).
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	err := syscall.Exec(path, argv, env)
	return commandError(argv[0], err)
}
