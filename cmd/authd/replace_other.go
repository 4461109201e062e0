//go:build !unix

package main

import "errors"

func openProcess(int, string) (process, error) {
	return nil, errors.New("replacing a running authd is not supported on this system; stop it first")
}
