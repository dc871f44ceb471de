package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/leased/leased/config"
	"github.com/leased/leased/lease"
)

// Reservations is implemented by a Backend that keeps runtime
// reservations (the server does): reservations added and deleted through
// the control API, persisted in the store and merged with the configured
// ones at every load and reload. Without it the reservation routes answer
// 501.
type Reservations interface {
	// Reservations lists the configured reservations of both families,
	// then the runtime ones in the order they were added.
	Reservations() []Reservation
	// AddReservation validates r (a runtime reservation: Source, Pool,
	// Added and Problem are ignored), makes it durable and applies it to
	// the engine; it returns it as listed. The error wraps
	// lease.ErrConflict (409) when it cannot be placed, or ErrBadRequest
	// (400) for a malformed one.
	AddReservation(ctx context.Context, r Reservation) (Reservation, error)
	// DeleteReservation removes the runtime reservation of target (its
	// address, or a DHCPv6 reservation's prefix) durably and returns it.
	// The client's lease is left as it is. The error wraps
	// lease.ErrNotFound (404), or ErrConfigured (409) for a reservation
	// of the configuration file.
	DeleteReservation(ctx context.Context, target string) (Reservation, error)
}

// ErrConfigured is returned (wrapped) when an operation that only applies
// to runtime reservations names a configured one: the API answers 409.
var ErrConfigured = errors.New("the reservation is in the configuration file")

// ErrBadRequest is returned (wrapped) for a request the Backend refuses
// as malformed: the API answers 400.
var ErrBadRequest = errors.New("bad request")

// Reservation sources.
const (
	SourceConfig  = "config"
	SourceRuntime = "runtime"
)

// Reservation is a fixed address (DHCPv4) or address and/or delegated
// prefix (DHCPv6) for one client: the body of POST /v1/reservations and an
// element of GET /v1/reservations.
type Reservation struct {
	// Family is 4 or 6; on POST it may be left out (it follows from
	// address or prefix).
	Family int `json:"family"`
	// Source is "config" (the configuration file; change it there) or
	// "runtime" (added through the API, kept in the store). Output only.
	Source string `json:"source,omitempty"`
	// Pool is the pool the reservation is in; empty for a runtime
	// reservation that no longer fits any pool (see Problem). Output only.
	Pool string `json:"pool,omitempty"`
	// Address is the reserved address (required for DHCPv4).
	Address netip.Addr `json:"address,omitzero"`
	// Prefix is a DHCPv6 reservation's delegated prefix, e.g.
	// "2001:db8:100::/56".
	Prefix string `json:"prefix,omitempty"`
	// HWAddr (aa:bb:cc:dd:ee:ff) or ClientID (option 61 in hex) identify
	// a DHCPv4 client; one of them is required.
	HWAddr   string `json:"hwaddr,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	// CircuitID and RemoteID (option 82, as text or 0x hex) identify a
	// configured DHCPv4 reservation's client. Output only.
	CircuitID string `json:"circuit_id,omitempty"`
	RemoteID  string `json:"remote_id,omitempty"`
	// DUID identifies a DHCPv6 client (hex); required for DHCPv6.
	DUID string `json:"duid,omitempty"`
	// Hostname is sent to the client (DHCPv4 option 12) and names its
	// lease.
	Hostname string `json:"hostname,omitempty"`
	// DNS replaces the pool's DNS servers for a DHCPv6 client.
	DNS []netip.Addr `json:"dns,omitempty"`
	// Options are sent to this client verbatim, beating the pool's and
	// its classes' options of the same code. Codes leased sets itself
	// (config.ManagedOption) are refused.
	Options []ReservationOption `json:"options,omitempty"`
	// Added is when a runtime reservation was added. Output only.
	Added time.Time `json:"added,omitzero"`
	// Problem says why a runtime reservation is not in force (it no
	// longer fits the configuration after a reload: its pool is gone, or
	// the file now reserves the address or the client); it stays stored
	// and comes back when the configuration allows it. Output only.
	Problem string `json:"problem,omitempty"`
}

// ReservationOption is one raw option of a reservation.
type ReservationOption struct {
	Code int `json:"code"`
	// Hex is the option's data in hex ("" for an empty option).
	Hex string `json:"hex"`
}

// Target is the key of a reservation in DELETE /v1/reservations/{target}:
// its address, or a prefix-only DHCPv6 reservation's prefix.
func (r *Reservation) Target() string {
	if r.Address.IsValid() {
		return r.Address.String()
	}
	return r.Prefix
}

// reservationFields are the fields POST /v1/reservations accepts.
var reservationFields = []string{"family", "address", "prefix", "hwaddr", "client_id", "duid", "hostname", "dns", "options"}

// DecodeReservation decodes and checks the body of POST /v1/reservations
// strictly: one JSON object of known fields, one family's identifiers,
// well-formed addresses and hex. Placement (pool, conflicts) is the
// Backend's.
func DecodeReservation(body []byte) (Reservation, error) {
	var r Reservation
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return r, errors.New("body: want a JSON object like {\"address\": \"192.0.2.10\", \"hwaddr\": \"52:54:00:12:34:56\"}")
	}
	if bad := unknownFields(top, reservationFields, ""); len(bad) > 0 {
		return r, fmt.Errorf("unknown field(s) %s (valid: %s)", strings.Join(bad, ", "), strings.Join(reservationFields, ", "))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return r, errors.New("body: data after the JSON object")
	}
	return r, r.Check()
}

// Check validates a runtime reservation's fields and fills Family; it
// does not know the pools. Errors name the field.
func (r *Reservation) Check() error {
	r.Address = r.Address.Unmap()
	fam := 0
	switch {
	case r.Address.Is4():
		fam = 4
	case r.Address.IsValid():
		if r.Address.Zone() != "" {
			return fmt.Errorf("address: %s has a zone; give a global address", r.Address)
		}
		fam = 6
	case r.Prefix != "":
		fam = 6
	}
	if r.Family != 0 && r.Family != 4 && r.Family != 6 {
		return fmt.Errorf("family: %d, want 4 or 6", r.Family)
	}
	if fam == 0 {
		return errors.New("address: required (or prefix for a DHCPv6 delegated prefix), e.g. 192.0.2.10 or 2001:db8::10")
	}
	if r.Family != 0 && r.Family != fam {
		return fmt.Errorf("family: %d contradicts the address %s", r.Family, r.Target())
	}
	r.Family = fam
	if r.Prefix != "" {
		p, err := netip.ParsePrefix(r.Prefix)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
			return fmt.Errorf("prefix: %q is not an IPv6 prefix (like 2001:db8:100::/56)", r.Prefix)
		}
		if p.Masked() != p {
			return fmt.Errorf("prefix: %s has host bits set; did you mean %s?", p, p.Masked())
		}
		r.Prefix = p.String()
	}
	if fam == 4 {
		switch {
		case r.DUID != "":
			return errors.New("duid: identifies DHCPv6 clients; a DHCPv4 reservation takes hwaddr or client_id")
		case len(r.DNS) > 0:
			return errors.New("dns: only DHCPv6 reservations take dns here")
		case r.HWAddr == "" && r.ClientID == "":
			return errors.New("hwaddr or client_id: required to identify the DHCPv4 client, e.g. \"hwaddr\": \"52:54:00:12:34:56\"")
		}
		if r.HWAddr != "" {
			b := ParseHex(r.HWAddr)
			if len(b) < 1 || len(b) > 16 {
				return fmt.Errorf("hwaddr: %q is not a hardware address (like 52:54:00:12:34:56)", r.HWAddr)
			}
			r.HWAddr = hexColon(b)
		}
		if r.ClientID != "" {
			b := ParseHex(r.ClientID)
			if len(b) < 2 || len(b) > 255 {
				return fmt.Errorf("client_id: %q is not a client identifier in hex, 2 to 255 bytes (like 01:52:54:00:12:34:56)", r.ClientID)
			}
			r.ClientID = hexColon(b)
		}
	} else {
		switch {
		case r.HWAddr != "" || r.ClientID != "":
			return errors.New("hwaddr, client_id: identify DHCPv4 clients; a DHCPv6 reservation takes duid")
		case r.DUID == "":
			return errors.New("duid: required to identify the DHCPv6 client, e.g. \"duid\": \"00:03:00:01:52:54:00:12:34:56\"")
		}
		b := ParseHex(r.DUID)
		if len(b) < 3 || len(b) > 130 { // RFC 8415 §11.1: type + up to 128 bytes
			return fmt.Errorf("duid: %q is not a DUID in hex, 3 to 130 bytes (RFC 8415 §11.1)", r.DUID)
		}
		r.DUID = hexColon(b)
		for _, a := range r.DNS {
			if !a.Is6() || a.Is4In6() {
				return fmt.Errorf("dns: %s is not an IPv6 address", a)
			}
		}
	}
	if r.Hostname != "" && !hostnameOK(r.Hostname) {
		return fmt.Errorf("hostname: %q is not a host name; use letters, digits and '-', e.g. printer-1", r.Hostname)
	}
	return r.checkOptions()
}

// checkOptions validates the raw options for r.Family: a code that is an
// option of that family and not one leased sets itself, once each, and
// data in hex that fits the option's length field.
func (r *Reservation) checkOptions() error {
	maxCode, maxLen := 254, 255
	if r.Family == 6 {
		maxCode, maxLen = 65535, 65535
	}
	seen := map[int]bool{}
	for i := range r.Options {
		o := &r.Options[i]
		f := fmt.Sprintf("options[%d]", i)
		if o.Code < 1 || o.Code > maxCode {
			return fmt.Errorf("%s.code: %d is not a DHCPv%d option code; use 1 to %d", f, o.Code, r.Family, maxCode)
		}
		if why, managed := config.ManagedOption(r.Family, o.Code); managed {
			return fmt.Errorf("%s.code: %s; choose another code", f, why)
		}
		if seen[o.Code] {
			return fmt.Errorf("%s.code: option %d is given twice", f, o.Code)
		}
		seen[o.Code] = true
		b := ParseHex(o.Hex)
		if o.Hex != "" && b == nil {
			return fmt.Errorf("%s.hex: %q is not hex bytes (like 0a:4d:00:05 or 0a4d0005)", f, o.Hex)
		}
		if len(b) > maxLen {
			return fmt.Errorf("%s.hex: %d bytes; an option holds at most %d", f, len(b), maxLen)
		}
		o.Hex = hexColon(b)
	}
	return nil
}

// hostnameOK accepts a host name or domain name: labels of letters,
// digits and '-', not starting or ending with '-', at most 63 bytes each.
func hostnameOK(s string) bool {
	if len(s) > 253 {
		return false
	}
	for l := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func hexColon(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 3*len(b))
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func (h *handler) reservationsBackend(w http.ResponseWriter, r *http.Request) (Reservations, bool) {
	rs, ok := h.b.(Reservations)
	if !ok {
		h.fail(w, r, http.StatusNotImplemented, "this server does not keep runtime reservations (its backend does not implement api.Reservations)")
	}
	return rs, ok
}

func (h *handler) listReservations(w http.ResponseWriter, r *http.Request) {
	rs, ok := h.reservationsBackend(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	for k := range q {
		if k != "family" && k != "source" {
			h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q (valid: family, source)", k))
			return
		}
	}
	fam, err := parseFamily(q)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	src := q.Get("source")
	if q.Has("source") && src != SourceConfig && src != SourceRuntime {
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("source: %q, want config or runtime", src))
		return
	}
	out := []Reservation{}
	for _, x := range rs.Reservations() {
		if (fam == 0 || x.Family == fam) && (src == "" || x.Source == src) {
			out = append(out, x)
		}
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

func (h *handler) addReservation(w http.ResponseWriter, r *http.Request) {
	rs, ok := h.reservationsBackend(w, r)
	if !ok {
		return
	}
	body, ok := h.jsonBody(w, r, "POST /v1/reservations takes no query parameters (the reservation goes in the JSON body)")
	if !ok {
		return
	}
	res, err := DecodeReservation(body)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	got, err := rs.AddReservation(r.Context(), res)
	if err != nil {
		h.reservationError(w, r, "add reservation "+res.Target(), err)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "reservation added by operator",
		slog.String("target", got.Target()), slog.String("pool", got.Pool), slog.String("client", reservationClient(&got)))
	h.writeJSON(w, r, http.StatusCreated, got)
}

func (h *handler) deleteReservation(w http.ResponseWriter, r *http.Request) {
	rs, ok := h.reservationsBackend(w, r)
	if !ok {
		return
	}
	a, plen, ok := h.pathAddr(w, r)
	if !ok {
		return
	}
	t := target(a, plen)
	got, err := rs.DeleteReservation(r.Context(), t)
	if err != nil {
		h.reservationError(w, r, "delete reservation "+t, err)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "reservation deleted by operator",
		slog.String("target", t), slog.String("pool", got.Pool), slog.String("client", reservationClient(&got)))
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) reservationError(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, ErrBadRequest):
		h.fail(w, r, http.StatusBadRequest, err.Error())
	case errors.Is(err, lease.ErrNotFound):
		h.fail(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, lease.ErrConflict), errors.Is(err, ErrConfigured):
		h.fail(w, r, http.StatusConflict, err.Error())
	default:
		h.fail(w, r, errStatus(err), what+": "+err.Error())
	}
}

func reservationClient(r *Reservation) string {
	switch {
	case r.DUID != "":
		return "duid " + r.DUID
	case r.ClientID != "":
		return "client-id " + r.ClientID
	}
	return "hwaddr " + r.HWAddr
}

// Reservations returns GET /v1/reservations: configured and runtime
// reservations (family 4 or 6, or 0 for both).
func (c *Client) Reservations(ctx context.Context, family int) ([]Reservation, error) {
	var out []Reservation
	q := url.Values{}
	if family != 0 {
		q["family"] = []string{fmt.Sprint(family)}
	}
	err := c.do(ctx, http.MethodGet, "/v1/reservations", q, &out, http.StatusOK)
	return out, err
}

// AddReservation adds a runtime reservation; a StatusError with Code 409
// says why it conflicts, 400 what is malformed.
func (c *Client) AddReservation(ctx context.Context, r Reservation) (Reservation, error) {
	var out Reservation
	err := c.doJSON(ctx, http.MethodPost, "/v1/reservations", r, &out, http.StatusCreated)
	return out, err
}

// DeleteReservation deletes the runtime reservation of target (address or
// DHCPv6 prefix); 409 for a configured one, 404 when there is none.
func (c *Client) DeleteReservation(ctx context.Context, target string) error {
	return c.do(ctx, http.MethodDelete, "/v1/reservations/"+url.PathEscape(target), nil, nil, http.StatusNoContent)
}
