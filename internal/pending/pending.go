//go:build pending

// Package pending holds the modules of work in progress until its code
// imports them. Removed before the work is done.
package pending

import (
	_ "github.com/coreos/go-systemd/v22/activation"
	_ "github.com/docker/docker-credential-helpers/client"
	_ "github.com/gofrs/flock"
	_ "golang.org/x/crypto/nacl/box"
	_ "k8s.io/client-go/pkg/apis/clientauthentication/v1"
	_ "k8s.io/client-go/plugin/pkg/client/auth/exec"
	_ "k8s.io/client-go/rest"
	_ "k8s.io/client-go/tools/clientcmd"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
)
