package httpauth_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"authd.dev/authd/client"
	"authd.dev/authd/client/httpauth"
)

// Call an API with the profile's token on every request.
func ExampleTransport() {
	c, err := client.New()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	o := client.TokenOptions{Profile: "work"}

	// api stands in for a service that accepts only the token authd hands out.
	want, err := c.Token(context.Background(), o)
	if err != nil {
		log.Fatal(err)
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+want.AccessToken {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer api.Close()

	hc := &http.Client{Transport: httpauth.Transport(c, nil, o)}
	resp, err := hc.Get(api.URL)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output:
	// 200 OK
}

// Hand the profile to a library that takes an oauth2.TokenSource.
func ExampleTokenSource() {
	c, err := client.New()
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx := context.Background()
	ts := httpauth.TokenSource(ctx, c, client.TokenOptions{Profile: "work"})
	tok, err := ts.Token() // what oauth2.NewClient(ctx, ts) does for each request
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("valid:", tok.Valid())
	fmt.Println("type:", tok.Type())
	// Output:
	// valid: true
	// type: Bearer
}
