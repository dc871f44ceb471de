package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/leased/leased/lease"
)

// resBackend keeps runtime reservations in memory with the conflict and
// not-found rules reduced to what the HTTP mapping needs; the real rules
// are server.TestRuntimeReservations4/6.
type resBackend struct {
	fakeBackend
	list []Reservation
}

func (b *resBackend) Reservations() []Reservation { return b.list }

func (b *resBackend) AddReservation(ctx context.Context, r Reservation) (Reservation, error) {
	if err := r.Check(); err != nil {
		return r, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	for _, o := range b.list {
		if o.Target() == r.Target() {
			return r, fmt.Errorf("%w: %s is already reserved in pool lan for %s", lease.ErrConflict, r.Target(), o.HWAddr)
		}
	}
	r.Source, r.Pool = SourceRuntime, "lan"
	b.list = append(b.list, r)
	return r, nil
}

func (b *resBackend) DeleteReservation(ctx context.Context, target string) (Reservation, error) {
	for i, o := range b.list {
		if o.Target() == target {
			if o.Source == SourceConfig {
				return o, fmt.Errorf("%w: edit the configuration file", ErrConfigured)
			}
			b.list = append(b.list[:i], b.list[i+1:]...)
			return o, nil
		}
	}
	return Reservation{}, fmt.Errorf("%w: no runtime reservation for %s", lease.ErrNotFound, target)
}

func TestReservationRoutes(t *testing.T) {
	b := &resBackend{fakeBackend: *testBackend(), list: []Reservation{
		{Family: 4, Source: SourceConfig, Pool: "lan", Address: netip.MustParseAddr("10.0.0.9"), HWAddr: "02:00:00:00:00:09"},
	}}
	srv := httptest.NewServer(NewHandler(b, nil, nil))
	defer srv.Close()
	c, err := NewTCPClient(srv.URL, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := c.AddReservation(ctx, Reservation{Address: netip.MustParseAddr("10.0.0.20"), HWAddr: "02-00-00-00-00-01", Hostname: "desk"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Family != 4 || got.HWAddr != "02:00:00:00:00:01" || got.Source != SourceRuntime {
		t.Errorf("added %+v, want family 4 and the normalised hwaddr", got)
	}
	if _, err := c.AddReservation(ctx, Reservation{Prefix: "fd77:100:ab::/56", DUID: "000300010200000000 07"}); statusCode(err) != http.StatusBadRequest {
		t.Errorf("bad DUID: %v, want 400", err)
	}
	if _, err := c.AddReservation(ctx, Reservation{Prefix: "fd77:100:ab::/56", DUID: "00:03:00:01:02:00:00:00:00:07"}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AddReservation(ctx, Reservation{Address: netip.MustParseAddr("10.0.0.20"), HWAddr: "02:00:00:00:00:02"})
	if statusCode(err) != http.StatusConflict || !strings.Contains(err.Error(), "already reserved") {
		t.Errorf("conflict: %v, want 409 saying why", err)
	}
	all, err := c.Reservations(ctx, 0)
	if err != nil || len(all) != 3 || all[0].Source != SourceConfig || all[1].Source != SourceRuntime {
		t.Fatalf("list: %+v, %v", all, err)
	}
	v6, err := c.Reservations(ctx, 6)
	if err != nil || len(v6) != 1 || v6[0].Prefix != "fd77:100:ab::/56" {
		t.Fatalf("list family 6: %+v, %v", v6, err)
	}
	if err := c.DeleteReservation(ctx, "10.0.0.9"); statusCode(err) != http.StatusConflict || !strings.Contains(err.Error(), "configuration file") {
		t.Errorf("delete configured: %v, want 409 pointing at the configuration file", err)
	}
	if err := c.DeleteReservation(ctx, "fd77:100:ab::/56"); err != nil {
		t.Errorf("delete by prefix: %v", err)
	}
	if err := c.DeleteReservation(ctx, "10.0.0.20"); err != nil {
		t.Errorf("delete: %v", err)
	}
	if err := c.DeleteReservation(ctx, "10.0.0.20"); statusCode(err) != http.StatusNotFound {
		t.Errorf("delete again: %v, want 404", err)
	}

	h := NewHandler(b, nil, nil)
	for _, tc := range []struct {
		body, want string
	}{
		{`{"address":"10.0.0.30","hwaddr":"02:00:00:00:00:03","lease_time":60}`, `unknown field(s) lease_time`},
		{`{"address":"10.0.0.30"}`, "hwaddr or client_id: required"},
		{`{"address":"10.0.0.30","duid":"00:03:00:01:02:00:00:00:00:07"}`, "duid: identifies DHCPv6 clients"},
		{`{"address":"fd77::5","hwaddr":"02:00:00:00:00:03"}`, "identify DHCPv4 clients"},
		{`{"address":"10.0.0.30","hwaddr":"zz"}`, `hwaddr: "zz" is not a hardware address`},
		{`{"address":"10.0.0.30","hwaddr":"02:00:00:00:00:03","hostname":"a b"}`, "hostname:"},
		{`{"family":6,"address":"10.0.0.30","hwaddr":"02:00:00:00:00:03"}`, "family: 6 contradicts"},
		{`{"prefix":"fd77:100:ab::1/56","duid":"00:03:00:01:02:00:00:00:00:07"}`, "host bits set"},
		{`[]`, "want a JSON object"},
		{`{"hwaddr":"02:00:00:00:00:03"}`, "address: required"},
		{`{"address":"10.0.0.30","hwaddr":"02:00:00:00:00:03","options":[{"code":51,"hex":"00000e10"}]}`, "options[0].code: option 51 (lease time) is set with lease_time"},
		{`{"address":"10.0.0.30","hwaddr":"02:00:00:00:00:03","options":[{"code":300,"hex":"00"}]}`, "options[0].code: 300 is not a DHCPv4 option code"},
		{`{"address":"10.0.0.30","hwaddr":"02:00:00:00:00:03","options":[{"code":252,"hex":"xyz"}]}`, "options[0].hex:"},
		{`{"address":"10.0.0.30","hwaddr":"02:00:00:00:00:03","options":[{"code":252,"hex":"00"},{"code":252,"hex":"01"}]}`, "options[1].code: option 252 is given twice"},
		{`{"address":"fd77::5","duid":"00:03:00:01:02:00:00:00:00:07","options":[{"code":23,"hex":"00"}]}`, "option 23 (DNS servers) is set with dns"},
	} {
		r := httptest.NewRequest("POST", "/v1/reservations", strings.NewReader(tc.body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		a := answer{w.Code, w.Header(), w.Body.String()}
		if a.code != http.StatusBadRequest || !strings.Contains(errorText(t, a), tc.want) {
			t.Errorf("POST %s: %d %s, want 400 containing %q", tc.body, a.code, a.body, tc.want)
		}
	}
	if a := call(t, h, "GET", "/v1/reservations?source=file"); a.code != http.StatusBadRequest {
		t.Errorf("bad source: %d", a.code)
	}
	if a := call(t, h, "DELETE", "/v1/reservations/not-an-address"); a.code != http.StatusBadRequest {
		t.Errorf("bad target: %d", a.code)
	}
	// A backend without runtime reservations answers 501.
	if a := call(t, NewHandler(testBackend(), nil, nil), "GET", "/v1/reservations"); a.code != http.StatusNotImplemented {
		t.Errorf("without api.Reservations: %d, want 501", a.code)
	}
}

func statusCode(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}
