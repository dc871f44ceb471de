package main

// The RADIUS Dynamic Authorization Server (package das) on top of the
// server's public methods. Only this file knows both; a rename in server/
// touches only the adapter below.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/leased/leased/api"
	"github.com/leased/leased/config"
	"github.com/leased/leased/das"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/reconf"
	"github.com/leased/leased/server"
)

// dasSessions implements das.Sessions with a *server.Server.
type dasSessions struct{ srv *server.Server }

var _ das.Sessions = dasSessions{}

func sessionOf(l *lease.Lease) das.Session {
	return das.Session{Addr: l.Addr, Prefix: l.Prefix(), HWAddr: l.HWAddr, ClientID: l.ClientID,
		RelayInfo: l.RelayInfo, Pool: l.Pool}
}

// Candidates looks addresses up directly; any other identification (MAC,
// option 82 ids, a prefix holding an IA_NA address) scans the bound leases.
func (d dasSessions) Candidates(q *das.Query) []das.Session {
	var out []das.Session
	if len(q.Prefixes) == 0 && len(q.Addrs) > 0 {
		for _, a := range q.Addrs {
			if l, ok := d.srv.Lookup(a); ok && l.State == lease.StateBound {
				out = append(out, sessionOf(&l))
			}
		}
		return out
	}
	for _, l := range d.srv.Leases(lease.Filter{States: []lease.State{lease.StateBound}}) {
		out = append(out, sessionOf(&l))
	}
	return out
}

func (d dasSessions) Delete(ctx context.Context, s das.Session) error {
	return d.srv.DeleteLease(ctx, s.Addr)
}

func (d dasSessions) Disconnect(ctx context.Context, s das.Session) error {
	_, err := d.srv.Disconnect(ctx, s.Addr, reconf.Delete)
	if errors.Is(err, reconf.ErrOverlap) {
		return fmt.Errorf("%w: %v", das.ErrBusy, err)
	}
	return err
}

// Reconfigure starts a one-client campaign (retries, outcome recorded,
// the pool's campaign settings); while another campaign runs on the pool
// it sends one FORCERENEW/Reconfigure at once instead.
func (d dasSessions) Reconfigure(ctx context.Context, s das.Session) error {
	opts, err := api.CampaignOptions{}.ToReconf()
	if err != nil {
		return err
	}
	fam := 4
	if s.IsV6() {
		fam = 6
	}
	st, err := d.srv.StartCampaign(ctx, reconf.Selector{Client: s.Addr.String(), Family: fam}, opts)
	switch {
	case errors.Is(err, reconf.ErrOverlap):
		if fam == 6 {
			err = d.srv.SendReconfigure(ctx, s.Addr)
		} else {
			err = d.srv.ForceRenew(ctx, s.Addr)
		}
		if errors.Is(err, lease.ErrNotCapable) {
			return fmt.Errorf("%w: %v", das.ErrNotCapable, err)
		}
		return err
	case err != nil:
		return err
	case st.Counts.NotCapable > 0:
		return fmt.Errorf("%w: campaign %d found %s not capable", das.ErrNotCapable, st.ID, s.Addr)
	}
	return nil
}

// startDAS listens on radius.listen and serves until ctx ends. It returns
// the bound address.
func startDAS(ctx context.Context, rc *config.Radius, srv *server.Server, log *slog.Logger, reg prometheus.Registerer) (net.Addr, error) {
	cfg := das.Config{
		Window:                rc.EventTimestampWindow.D(),
		AllowMissingTimestamp: !rc.EventTimestampRequired(),
		NASIdentifier:         rc.NASIdentifier,
		NASAddrs:              rc.NASAddresses,
	}
	if rc.Disconnect == "reconfigure" {
		cfg.Disconnect = das.ActionReconfigure
	}
	for i := range rc.Clients {
		c := &rc.Clients[i]
		secret, err := c.SecretBytes()
		if err != nil {
			return nil, fmt.Errorf("radius.clients[%d] (%s): %w", i, c.Name, err)
		}
		cfg.Clients = append(cfg.Clients, das.NAS{Name: c.Name, Prefix: c.Prefix(), Secret: secret})
	}
	d, err := das.New(cfg, dasSessions{srv}, log.With("component", "radius"), reg)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenPacket("udp", rc.Listen)
	if err != nil {
		return nil, fmt.Errorf("radius.listen: %w", err)
	}
	go func() {
		if err := d.Serve(ctx, conn); err != nil {
			log.Error("radius: listener stopped", "err", err)
		}
	}()
	return conn.LocalAddr(), nil
}
