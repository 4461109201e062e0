//go:build !unix

package main

import (
	"os"
	"os/exec"
	"os/signal"
)

// execCommand runs the program at path with authc's stdin, stdout and
// stderr, waits for it and returns its exit code. A Ctrl-C reaches every
// process of the console, CMD included: authc lets CMD decide what it
// means and waits for it instead of ending first.
func execCommand(path string, argv, env []string) *exitError {
	cmd := &exec.Cmd{Path: path, Args: argv, Env: env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	signal.Reset(os.Interrupt)
	ignored := make(chan os.Signal, 1)
	signal.Notify(ignored, os.Interrupt)
	if err := cmd.Start(); err != nil {
		return commandError(argv[0], err)
	}
	_ = cmd.Wait()
	return &exitError{code: cmd.ProcessState.ExitCode()}
}
