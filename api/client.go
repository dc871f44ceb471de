package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to the control API over the unix socket or over TCP.
type Client struct {
	// Where names the server for error messages: the socket path or the URL.
	Where string

	http  *http.Client
	base  string // scheme://host, no trailing slash
	token string
}

// NewUnixClient returns a client for the control socket at path. timeout
// bounds each request (0: none).
func NewUnixClient(path string, timeout time.Duration) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:    2,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{
		Where: path,
		http:  &http.Client{Transport: tr, Timeout: timeout},
		base:  "http://leased",
	}
}

// NewTCPClient returns a client for the TCP listener at baseURL (such as
// "https://dhcp1.example.net:8067"), sending token as a bearer token when
// it is not empty.
func NewTCPClient(baseURL, token string, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want http://host:port or https://host:port", baseURL)
	}
	return &Client{
		Where: baseURL,
		http:  &http.Client{Timeout: timeout},
		base:  strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"),
		token: token,
	}, nil
}

// StatusError is a 4xx or 5xx answer from the API.
type StatusError struct {
	Code    int
	Message string // the API's "error" text
}

func (e *StatusError) Error() string { return e.Message }

// ConnError means the server could not be reached or did not answer.
type ConnError struct {
	Where string
	Err   error
}

func (e *ConnError) Error() string { return "cannot reach leased at " + e.Where + ": " + e.Err.Error() }
func (e *ConnError) Unwrap() error { return e.Err }

// do sends one request and decodes a JSON answer into out (when not nil).
// okCodes lists the codes that carry a result; any other is a StatusError.
func (c *Client) do(ctx context.Context, method, path string, q url.Values, out any, okCodes ...int) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return &ConnError{Where: c.Where, Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &ConnError{Where: c.Where, Err: fmt.Errorf("read answer: %w", err)}
	}
	ok := false
	for _, code := range okCodes {
		ok = ok || resp.StatusCode == code
	}
	if !ok {
		var e Error
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(body))
			if e.Error == "" {
				e.Error = resp.Status
			}
		}
		return &StatusError{Code: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Health returns the server's health. A server that is up but not "ok"
// answers 503 with a Health body: that is returned without error.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.do(ctx, "GET", "/v1/health", nil, &h, http.StatusOK, http.StatusServiceUnavailable)
	return h, err
}

// LeaseQuery selects leases; zero fields match everything.
type LeaseQuery struct {
	Pool     string
	Section  *int
	From, To netip.Addr
	Client   string
	States   []string
}

func (q LeaseQuery) values() url.Values {
	v := url.Values{}
	if q.Pool != "" {
		v.Set("pool", q.Pool)
	}
	if q.Section != nil {
		v.Set("section", strconv.Itoa(*q.Section))
	}
	if q.From.IsValid() {
		v.Set("from", q.From.String())
	}
	if q.To.IsValid() {
		v.Set("to", q.To.String())
	}
	if q.Client != "" {
		v.Set("client", q.Client)
	}
	for _, s := range q.States {
		v.Add("state", s)
	}
	return v
}

// Leases returns the leases matching q, in address order.
func (c *Client) Leases(ctx context.Context, q LeaseQuery) ([]Lease, error) {
	var out []Lease
	err := c.do(ctx, "GET", "/v1/leases", q.values(), &out, http.StatusOK)
	return out, err
}

// Lease returns the lease of one address; a StatusError with Code 404 when
// there is none.
func (c *Client) Lease(ctx context.Context, addr netip.Addr) (Lease, error) {
	var out Lease
	err := c.do(ctx, "GET", "/v1/leases/"+addr.String(), nil, &out, http.StatusOK)
	return out, err
}

// DeleteLease deletes the lease of addr; when it returns nil the deletion
// is durable.
func (c *Client) DeleteLease(ctx context.Context, addr netip.Addr) error {
	return c.do(ctx, "DELETE", "/v1/leases/"+addr.String(), nil, nil, http.StatusNoContent, http.StatusOK)
}

// ForceRenew asks leased to send one DHCPFORCERENEW to the client bound to
// addr; a StatusError with Code 404 (no lease) or 409 (not bound, or the
// client cannot receive an authenticated FORCERENEW) when it cannot.
func (c *Client) ForceRenew(ctx context.Context, addr netip.Addr) (ForceRenewResult, error) {
	var out ForceRenewResult
	err := c.do(ctx, "POST", "/v1/leases/"+addr.String()+"/forcerenew", nil, &out, http.StatusOK)
	return out, err
}

// Pools returns the utilisation of every pool.
func (c *Client) Pools(ctx context.Context) ([]Pool, error) {
	var out []Pool
	err := c.do(ctx, "GET", "/v1/pools", nil, &out, http.StatusOK)
	return out, err
}
