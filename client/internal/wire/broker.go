package wire

import (
	"context"
	"fmt"
)

// GetToken calls authd.v1.Broker/GetToken.
func (c *Conn) GetToken(ctx context.Context, req *GetTokenRequest) (*Token, error) {
	resp, err := c.Unary(ctx, "GetToken", req.Marshal())
	if err != nil {
		return nil, err
	}
	var tok Token
	if err := tok.Unmarshal(resp); err != nil {
		return nil, fmt.Errorf("GetToken: %w", err)
	}
	return &tok, nil
}

// Login calls authd.v1.Broker/Login and calls recv with each event until
// the login ends; an error from recv cancels the call and is returned. recv
// must not call c.
func (c *Conn) Login(ctx context.Context, req *LoginRequest, recv func(*LoginEvent) error) error {
	return c.Stream(ctx, "Login", req.Marshal(), func(msg []byte) error {
		var ev LoginEvent
		if err := ev.Unmarshal(msg); err != nil {
			return fmt.Errorf("Login: %w", err)
		}
		return recv(&ev)
	})
}

// Logout calls authd.v1.Broker/Logout.
func (c *Conn) Logout(ctx context.Context, req *LogoutRequest) (*LogoutResponse, error) {
	resp, err := c.Unary(ctx, "Logout", req.Marshal())
	if err != nil {
		return nil, err
	}
	var out LogoutResponse
	if err := out.Unmarshal(resp); err != nil {
		return nil, fmt.Errorf("Logout: %w", err)
	}
	return &out, nil
}

// Status calls authd.v1.Broker/Status.
func (c *Conn) Status(ctx context.Context) (*StatusResponse, error) {
	resp, err := c.Unary(ctx, "Status", (&StatusRequest{}).Marshal())
	if err != nil {
		return nil, err
	}
	var out StatusResponse
	if err := out.Unmarshal(resp); err != nil {
		return nil, fmt.Errorf("Status: %w", err)
	}
	return &out, nil
}

// SetCredential calls authd.v1.Broker/SetCredential.
func (c *Conn) SetCredential(ctx context.Context, req *SetCredentialRequest) (*SetCredentialResponse, error) {
	resp, err := c.Unary(ctx, "SetCredential", req.Marshal())
	if err != nil {
		return nil, err
	}
	var out SetCredentialResponse
	if err := out.Unmarshal(resp); err != nil {
		return nil, fmt.Errorf("SetCredential: %w", err)
	}
	return &out, nil
}

// Reload calls authd.v1.Broker/Reload.
func (c *Conn) Reload(ctx context.Context) (*ReloadResponse, error) {
	resp, err := c.Unary(ctx, "Reload", (&ReloadRequest{}).Marshal())
	if err != nil {
		return nil, err
	}
	var out ReloadResponse
	if err := out.Unmarshal(resp); err != nil {
		return nil, fmt.Errorf("Reload: %w", err)
	}
	return &out, nil
}
