//go:build !unix

package client

import (
	"context"
	"errors"
)

const exeSuffix = ".exe"

var errNoAutostart = errors.New("starting authd from a client works on Unix systems only; run 'authd start'")

func lockFile(context.Context, string) (func(), error) { return nil, errNoAutostart }

func spawn(string, string, string) (<-chan struct{}, error) { return nil, errNoAutostart }
