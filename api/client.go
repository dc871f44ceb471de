package api

import (
	"bytes"
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
	return c.doBody(ctx, method, path, q, nil, out, okCodes...)
}

// doBody is do with a request body (JSON) when body is not nil.
func (c *Client) doBody(ctx context.Context, method, path string, q url.Values, body io.Reader, out any, okCodes ...int) error {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &ConnError{Where: c.Where, Err: fmt.Errorf("read answer: %w", err)}
	}
	ok := false
	for _, code := range okCodes {
		ok = ok || resp.StatusCode == code
	}
	if !ok {
		var e Error
		if json.Unmarshal(answer, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(answer))
			if e.Error == "" {
				e.Error = resp.Status
			}
		}
		return &StatusError{Code: resp.StatusCode, Message: e.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
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
	// Family is 4 or 6 for one family's leases, 0 for both.
	Family int
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
	if q.Family != 0 {
		v.Set("family", strconv.Itoa(q.Family))
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

// LeaseAt returns the lease of target: an IPv4 or IPv6 address or a
// delegated prefix ("fd77:100::/56").
func (c *Client) LeaseAt(ctx context.Context, target string) (Lease, error) {
	var out Lease
	err := c.do(ctx, "GET", "/v1/leases/"+url.PathEscape(target), nil, &out, http.StatusOK)
	return out, err
}

// DeleteLeaseAt deletes the lease of target (address or delegated prefix).
func (c *Client) DeleteLeaseAt(ctx context.Context, target string) error {
	return c.do(ctx, "DELETE", "/v1/leases/"+url.PathEscape(target), nil, nil, http.StatusNoContent, http.StatusOK)
}

// Reconfigure asks leased to send one FORCERENEW (IPv4) or DHCPv6
// Reconfigure to the client bound to target (address or delegated prefix).
func (c *Client) Reconfigure(ctx context.Context, target string) (ForceRenewResult, error) {
	var out ForceRenewResult
	err := c.do(ctx, "POST", "/v1/leases/"+url.PathEscape(target)+"/reconfigure", nil, &out, http.StatusOK)
	return out, err
}

// Pools returns the utilisation of every pool.
func (c *Client) Pools(ctx context.Context) ([]Pool, error) {
	var out []Pool
	err := c.do(ctx, "GET", "/v1/pools", nil, &out, http.StatusOK)
	return out, err
}

// doJSON is do with a JSON request body.
func (c *Client) doJSON(ctx context.Context, method, path string, in, out any, okCodes ...int) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return c.doBody(ctx, method, path, nil, bytes.NewReader(b), out, okCodes...)
}

// StartCampaign starts a FORCERENEW campaign. A StatusError with Code 409
// names the running campaign that overlaps; 400 a bad selector or option.
func (c *Client) StartCampaign(ctx context.Context, req CampaignRequest) (Campaign, error) {
	var out Campaign
	err := c.doJSON(ctx, "POST", "/v1/campaigns", req, &out, http.StatusCreated, http.StatusOK)
	return out, err
}

// Campaigns lists every campaign the server remembers, by id.
func (c *Client) Campaigns(ctx context.Context) ([]Campaign, error) {
	var out []Campaign
	err := c.do(ctx, "GET", "/v1/campaigns", nil, &out, http.StatusOK)
	return out, err
}

// Campaign returns one campaign; a StatusError with Code 404 when unknown.
func (c *Client) Campaign(ctx context.Context, id uint32) (Campaign, error) {
	var out Campaign
	err := c.do(ctx, "GET", "/v1/campaigns/"+strconv.FormatUint(uint64(id), 10), nil, &out, http.StatusOK)
	return out, err
}

// StopCampaign stops a running campaign (its pending clients become
// aborted) and returns its final status.
func (c *Client) StopCampaign(ctx context.Context, id uint32) (Campaign, error) {
	var out Campaign
	err := c.do(ctx, "POST", "/v1/campaigns/"+strconv.FormatUint(uint64(id), 10)+"/stop", nil, &out, http.StatusOK)
	return out, err
}

// DeleteCampaign forgets a finished campaign; a StatusError with Code 409
// when it is running (stop it first), 404 when unknown.
func (c *Client) DeleteCampaign(ctx context.Context, id uint32) error {
	return c.do(ctx, "DELETE", "/v1/campaigns/"+strconv.FormatUint(uint64(id), 10), nil, nil, http.StatusNoContent)
}

// ClientQuery selects clients of a campaign; zero fields match all.
type ClientQuery struct {
	Outcomes []string
	After    netip.Addr // paging: only addresses above
	Limit    int
}

// CampaignClients returns the clients of campaign id in address order.
func (c *Client) CampaignClients(ctx context.Context, id uint32, q ClientQuery) ([]CampaignClient, error) {
	v := url.Values{}
	if len(q.Outcomes) > 0 {
		v.Set("outcome", strings.Join(q.Outcomes, ","))
	}
	if q.After.IsValid() {
		v.Set("after", q.After.String())
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out []CampaignClient
	err := c.do(ctx, "GET", "/v1/campaigns/"+strconv.FormatUint(uint64(id), 10)+"/clients", v, &out, http.StatusOK)
	return out, err
}

// Disconnect asks leased to reconfigure the client bound to addr with a
// forced NAK and to delete (onFailure "delete" or "") or recycle its lease
// if it does not come back. It returns the one-client campaign.
func (c *Client) Disconnect(ctx context.Context, addr netip.Addr, onFailure string) (Campaign, error) {
	v := url.Values{}
	if onFailure != "" {
		v.Set("on_failure", onFailure)
	}
	var out Campaign
	err := c.do(ctx, "POST", "/v1/leases/"+addr.String()+"/disconnect", v, &out, http.StatusOK)
	return out, err
}
