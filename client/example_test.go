package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"authd.dev/authd/client"
)

// Ask the daemon for an access token; it logs in, caches and refreshes.
func Example() {
	c, err := client.New() // the socket is $AUTHD_SOCKET, or the default
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	tok, err := c.Token(context.Background(), client.TokenOptions{Profile: "work"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("got a token:", tok.AccessToken != "")
	fmt.Println("valid for a minute:", time.Until(tok.Expiry) > time.Minute)
	// Output:
	// got a token: true
	// valid for a minute: true
}

// Log in, showing the user each step: here the browser flow, as a
// program does on a desktop.
func ExampleClient_Login() {
	c, err := client.New()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	// Force logs in again even when logged in, as "authc login --force" does.
	o := client.LoginOptions{Profile: "work", Force: true}
	err = c.Login(context.Background(), o, func(ev client.LoginEvent) {
		switch {
		case ev.OpenURL != nil:
			fmt.Println("opening the browser")
			browse(ev.OpenURL.URL) // e.g. xdg-open or $BROWSER
		case ev.DeviceCode != nil:
			fmt.Printf("open %s and enter %s\n", ev.DeviceCode.VerificationURI, ev.DeviceCode.UserCode)
		case ev.Waiting != "":
			fmt.Println("waiting for the login", ev.Waiting, "started")
		case ev.Done != nil:
			fmt.Println("logged in as", ev.Done.Account)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// opening the browser
	// logged in as alice@example.com
}

// Branch on why the daemon said no with errors.Is and the sentinels.
func ExampleErrProfileNotFound() {
	c, err := client.New()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	_, err = c.Token(context.Background(), client.TokenOptions{Profile: "nosuch"})
	switch {
	case errors.Is(err, client.ErrProfileNotFound):
		fmt.Println("no such profile")
	case errors.Is(err, client.ErrLoginRequired):
		fmt.Println("run: authc login")
	case err != nil:
		log.Fatal(err)
	}
	// Output:
	// no such profile
}

// Make the daemon reread its config file, as 'authc reload' does.
func ExampleClient_Reload() {
	c, err := client.New()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	res, err := c.Reload(context.Background())
	if errors.Is(err, client.ErrInvalidConfig) {
		fmt.Println(err) // each problem of the file on a line; the old config is kept
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("added:", res.Added, "changed:", res.Changed, "removed:", res.Removed)
	// Output:
	// added: [] changed: [] removed: []
}

// Learn the daemon's version from the answers to the calls the program
// makes anyway: no call of its own.
func ExampleWithDaemonVersion() {
	c, err := client.New(client.WithDaemonVersion(func(v string) {
		fmt.Println("authd says its version:", v != "")
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Token(context.Background(), client.TokenOptions{Profile: "work"}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// authd says its version: true
}
