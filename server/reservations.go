package server

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/leased/leased/api"
	"github.com/leased/leased/lease"
	"github.com/leased/leased/lease6"
	"github.com/leased/leased/store"
)

// Runtime reservations: added and deleted through the control API
// (api.Reservations), kept in the store as store.BlobReservation blobs
// (key: family byte + target text, value: the api.Reservation JSON), and
// merged with the configured reservations (lease.Config.WithReservations,
// lease6.Config.WithReservations) whenever a configuration is applied: at
// New, at every Reload/Reload6, and after every add or delete. The engines
// only ever see a plain configuration; they stay pure.

var _ api.Reservations = (*Server)(nil)

// reservationState is the runtime reservations and the configurations
// they are merged into.
type reservationState struct {
	// mu serialises every change of the engines' configuration (Reload,
	// Reload6, add, delete), so a merge never applies a stale list.
	mu       sync.Mutex
	runtime  []api.Reservation // both families, in the order added
	base4    *lease.Config     // the configuration without runtime reservations
	base6    *lease6.Config
	problems map[string]string // blobKey → why the last merge left it out
}

// reservationBlobKey is the store key of r: family byte + target.
func reservationBlobKey(r *api.Reservation) []byte {
	return append([]byte{byte(r.Family)}, r.Target()...)
}

// noteReservationBlob takes a runtime reservation from a recovered blob
// (called for every blob by initCampaigns). It reports whether b was one.
func (s *Server) noteReservationBlob(b store.Blob) bool {
	if b.Kind != store.BlobReservation {
		return false
	}
	if r, ok := s.decodeReservationBlob(b); ok {
		s.res.runtime = append(s.res.runtime, r)
	}
	return true
}

// decodeReservationBlob decodes and checks a stored runtime reservation;
// one that does not decode or check is logged and left out.
func (s *Server) decodeReservationBlob(b store.Blob) (api.Reservation, bool) {
	var r api.Reservation
	if err := json.Unmarshal(b.Value, &r); err != nil {
		s.log.Error("stored runtime reservation does not decode; ignored", "key", string(b.Key), "err", err)
		return r, false
	}
	if err := r.Check(); err != nil {
		s.log.Error("stored runtime reservation is invalid; ignored", "key", string(b.Key), "err", err)
		return r, false
	}
	r.Source, r.Pool, r.Problem = api.SourceRuntime, "", ""
	return r, true
}

// initReservations applies the recovered runtime reservations to the
// engines (New, after the blobs are loaded).
func (s *Server) initReservations() error {
	rs := &s.res
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if s.opts.Config != nil {
		c := *s.opts.Config
		rs.base4 = &c
	}
	if s.v6 != nil && s.v6.cfg != nil {
		c := *s.v6.cfg
		rs.base6 = &c
	}
	if len(rs.runtime) == 0 {
		return nil
	}
	if rs.base4 != nil {
		if err := s.apply4(); err != nil {
			return fmt.Errorf("server: apply runtime reservations (DHCPv4): %w", err)
		}
	}
	if rs.base6 != nil {
		if err := s.apply6(); err != nil {
			return fmt.Errorf("server: apply runtime reservations (DHCPv6): %w", err)
		}
	}
	n := len(rs.runtime) - len(rs.problems)
	s.log.Info("runtime reservations restored", "reservations", len(rs.runtime), "in_force", n)
	return nil
}

// mergeReservations4 is what Reload applies: cfg (the file) with the
// runtime reservations; keep, called once the engine took it, records cfg
// as the file's configuration. The caller holds s.res.mu.
func (s *Server) mergeReservations4(cfg lease.Config) (merged lease.Config, keep func()) {
	merged, bad := s.merge4(cfg, nil)
	return merged, func() {
		c := cfg
		c.Pools = slices.Clone(cfg.Pools)
		s.res.base4 = &c
		s.noteProblems(4, bad)
	}
}

// mergeReservations6 is mergeReservations4 for Reload6.
func (s *Server) mergeReservations6(cfg lease6.Config) (merged lease6.Config, keep func()) {
	merged, bad := s.merge6(cfg, nil)
	return merged, func() {
		c := cfg
		c.Pools = slices.Clone(cfg.Pools)
		s.res.base6 = &c
		s.noteProblems(6, bad)
	}
}

// merge4 merges the DHCPv4 runtime reservations (list, or s.res.runtime
// when nil) into base. bad maps the blob key of each that did not fit to
// why.
func (s *Server) merge4(base lease.Config, list []api.Reservation) (cfg lease.Config, bad map[string]string) {
	if list == nil {
		list = s.res.runtime
	}
	var lrs []lease.Reservation
	var keys []string
	for i := range list {
		r := &list[i]
		if r.Family != 4 {
			continue
		}
		lrs = append(lrs, toLease4(r))
		keys = append(keys, string(reservationBlobKey(r)))
	}
	cfg, errs := base.WithReservations(lrs)
	return cfg, problems(keys, errs)
}

// merge6 is merge4 for DHCPv6.
func (s *Server) merge6(base lease6.Config, list []api.Reservation) (cfg lease6.Config, bad map[string]string) {
	if list == nil {
		list = s.res.runtime
	}
	var lrs []lease6.Reservation
	var keys []string
	for i := range list {
		r := &list[i]
		if r.Family != 6 {
			continue
		}
		lrs = append(lrs, toLease6(r))
		keys = append(keys, string(reservationBlobKey(r)))
	}
	cfg, errs := base.WithReservations(lrs)
	return cfg, problems(keys, errs)
}

func problems(keys []string, errs []error) map[string]string {
	var bad map[string]string
	for i, err := range errs {
		if err == nil {
			continue
		}
		if bad == nil {
			bad = map[string]string{}
		}
		bad[keys[i]] = strings.TrimPrefix(err.Error(), lease.ErrConflict.Error()+": ")
	}
	return bad
}

// noteProblems replaces the family's recorded problems with bad and logs
// the reservations that are newly out of force.
func (s *Server) noteProblems(family byte, bad map[string]string) {
	rs := &s.res
	if rs.problems == nil {
		rs.problems = map[string]string{}
	}
	old := map[string]string{}
	for k, v := range rs.problems {
		if k[0] == family {
			old[k] = v
			delete(rs.problems, k)
		}
	}
	for k, msg := range bad {
		rs.problems[k] = msg
		if old[k] != msg {
			s.log.Warn("runtime reservation not in force: it does not fit the configuration (kept in the store)",
				"reservation", k[1:], "reason", msg)
		}
	}
}

// apply4 applies base merged with the runtime reservations to the DHCPv4
// engine. The caller holds s.res.mu.
func (s *Server) apply4() error {
	cfg, bad := s.merge4(*s.res.base4, nil)
	if err := s.eng.ApplyConfig(cfg); err != nil {
		return err
	}
	s.noteProblems(4, bad)
	s.noteConfig4(cfg)
	return nil
}

// apply6 is apply4 for DHCPv6.
func (s *Server) apply6() error {
	cfg, bad := s.merge6(*s.res.base6, nil)
	if err := s.v6.eng.ApplyConfig(cfg); err != nil {
		return err
	}
	s.noteProblems(6, bad)
	s.noteConfig6(cfg)
	return nil
}

func toLease4(r *api.Reservation) lease.Reservation {
	lr := lease.Reservation{
		HWAddr:   api.ParseHex(r.HWAddr),
		ClientID: api.ParseHex(r.ClientID),
		Addr:     r.Address,
		Hostname: r.Hostname,
	}
	for _, o := range r.Options { // checked by api.Reservation.Check
		lr.Options = append(lr.Options, lease.RawOption{Code: uint8(o.Code), Data: api.ParseHex(o.Hex)})
	}
	return lr
}

func toLease6(r *api.Reservation) lease6.Reservation {
	lr := lease6.Reservation{
		DUID:     api.ParseHex(r.DUID),
		Addr:     r.Address,
		Hostname: r.Hostname,
		DNS:      slices.Clone(r.DNS),
	}
	for _, o := range r.Options {
		lr.RawOptions = append(lr.RawOptions, lease6.RawOption{Code: uint16(o.Code), Data: api.ParseHex(o.Hex)})
	}
	if r.Prefix != "" {
		lr.Prefix, _ = netip.ParsePrefix(r.Prefix) // checked by api.Reservation.Check
	}
	return lr
}

// noteConfig4 makes cfg the configuration reload diffs and the option
// cache start from.
func (s *Server) noteConfig4(cfg lease.Config) {
	nc := cfg
	nc.Pools = slices.Clone(cfg.Pools)
	s.camp.cfgM.Lock()
	s.camp.leaseCfg = &nc
	s.camp.cfgM.Unlock()
	s.poolOpts.reload(cfg.Pools)
}

func (s *Server) noteConfig6(cfg lease6.Config) {
	v := s.v6
	nc := cfg
	nc.Pools = slices.Clone(cfg.Pools)
	v.cfgMu.Lock()
	v.cfg = &nc
	v.cfgMu.Unlock()
	v.poolOpts.reload(cfg.Pools)
}

// Reservations lists the configured reservations (DHCPv4 pools, then
// DHCPv6 pools, in configuration order), then the runtime ones in the
// order they were added (api.Reservations).
func (s *Server) Reservations() []api.Reservation {
	rs := &s.res
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := []api.Reservation{}
	if rs.base4 != nil {
		for i := range rs.base4.Pools {
			p := &rs.base4.Pools[i]
			for j := range p.Reservations {
				out = append(out, fromLease4(p.Name, &p.Reservations[j]))
			}
		}
	}
	if rs.base6 != nil {
		for i := range rs.base6.Pools {
			p := &rs.base6.Pools[i]
			for j := range p.Reservations {
				out = append(out, fromLease6(p.Name, &p.Reservations[j]))
			}
		}
	}
	for _, r := range rs.runtime {
		out = append(out, s.listed(r))
	}
	return out
}

// listed is a runtime reservation as the API shows it: with its pool, or
// the reason it is not in force.
func (s *Server) listed(r api.Reservation) api.Reservation {
	r.Source = api.SourceRuntime
	if p, ok := s.res.problems[string(reservationBlobKey(&r))]; ok {
		r.Problem = p
		return r
	}
	if r.Family == 4 && s.res.base4 != nil {
		for i := range s.res.base4.Pools {
			if p := &s.res.base4.Pools[i]; p.Subnet.Contains(r.Address) {
				r.Pool = p.Name
			}
		}
	}
	if r.Family == 6 && s.res.base6 != nil {
		lr := toLease6(&r)
		for i := range s.res.base6.Pools {
			p := &s.res.base6.Pools[i]
			if lr.Addr.IsValid() && p.Subnet.Contains(lr.Addr) ||
				!lr.Addr.IsValid() && p.PD != nil && p.PD.Prefix.Contains(lr.Prefix.Addr()) {
				r.Pool = p.Name
			}
		}
	}
	return r
}

func fromLease4(pool string, r *lease.Reservation) api.Reservation {
	out := api.Reservation{Family: 4, Source: api.SourceConfig, Pool: pool, Address: r.Addr, Hostname: r.Hostname}
	if len(r.HWAddr) > 0 {
		out.HWAddr = hexColon(r.HWAddr)
	}
	if len(r.ClientID) > 0 {
		out.ClientID = hexColon(r.ClientID)
	}
	out.CircuitID = textOrHex(r.CircuitID)
	out.RemoteID = textOrHex(r.RemoteID)
	for _, o := range r.Options {
		out.Options = append(out.Options, api.ReservationOption{Code: int(o.Code), Hex: hexColon(o.Data)})
	}
	return out
}

func fromLease6(pool string, r *lease6.Reservation) api.Reservation {
	out := api.Reservation{Family: 6, Source: api.SourceConfig, Pool: pool, Address: r.Addr, Hostname: r.Hostname,
		DUID: hexColon(r.DUID), DNS: slices.Clone(r.DNS)}
	if r.Prefix.IsValid() {
		out.Prefix = r.Prefix.String()
	}
	for _, o := range r.RawOptions {
		out.Options = append(out.Options, api.ReservationOption{Code: int(o.Code), Hex: hexColon(o.Data)})
	}
	return out
}

// textOrHex shows option 82 sub-option bytes as the config writes them:
// printable text as is, else 0x hex.
func textOrHex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "0x" + strings.ReplaceAll(hexColon(b), ":", "")
		}
	}
	return string(b)
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

// AddReservation adds a runtime reservation (api.Reservations): it checks
// it against the pools, the configured and runtime reservations and the
// live leases, makes it durable, then applies the merged configuration to
// the family's engine. The client's next DISCOVER/Solicit (or renewal)
// gets the reserved address.
func (s *Server) AddReservation(ctx context.Context, r api.Reservation) (api.Reservation, error) {
	if err := r.Check(); err != nil {
		return api.Reservation{}, fmt.Errorf("%w: %v", api.ErrBadRequest, err)
	}
	r.Source, r.Pool, r.Problem = "", "", ""
	r.Added = s.now().UTC().Truncate(time.Second)
	rs := &s.res
	rs.mu.Lock()
	defer rs.mu.Unlock()
	key := reservationBlobKey(&r)
	for i := range rs.runtime {
		if o := &rs.runtime[i]; string(reservationBlobKey(o)) == string(key) {
			return api.Reservation{}, fmt.Errorf("%w: %s already has a runtime reservation (delete it first)", lease.ErrConflict, r.Target())
		}
	}
	// Place it after the existing runtime reservations: they keep theirs.
	next := append(slices.Clip(rs.runtime), r)
	if err := s.placeReservation(&r, next); err != nil {
		return api.Reservation{}, err
	}
	if err := s.liveConflict(&r); err != nil {
		return api.Reservation{}, err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return api.Reservation{}, err
	}
	if err := s.persistBlobs(ctx, []store.Blob{{Kind: store.BlobReservation, Key: key, Value: v}}, "reservation "+r.Target()); err != nil {
		return api.Reservation{}, err
	}
	rs.runtime = next
	apply := s.apply4
	if r.Family == 6 {
		apply = s.apply6
	}
	if err := apply(); err != nil {
		// The engine refused the merged configuration (it validated as
		// a candidate, so this is a bug): undo, durably.
		rs.runtime = rs.runtime[:len(rs.runtime)-1]
		_ = s.persistBlobs(context.WithoutCancel(ctx), []store.Blob{{Kind: store.BlobReservation, Key: key}}, "undo reservation "+r.Target())
		return api.Reservation{}, fmt.Errorf("server: apply reservation %s: %w", r.Target(), err)
	}
	return s.listed(r), nil
}

// placeReservation merges list (the runtime reservations with r last)
// into the family's configuration as a candidate and returns r's
// placement error, if any.
func (s *Server) placeReservation(r *api.Reservation, list []api.Reservation) error {
	var bad map[string]string
	switch {
	case r.Family == 4 && s.res.base4 != nil:
		_, bad = s.merge4(*s.res.base4, list)
	case r.Family == 4:
		return fmt.Errorf("%w: this server has no DHCPv4 configuration", lease.ErrConflict)
	case s.v6 != nil && s.res.base6 != nil:
		_, bad = s.merge6(*s.res.base6, list)
	default:
		return fmt.Errorf("%w: this server does not serve DHCPv6", lease.ErrConflict)
	}
	if p, ok := bad[string(reservationBlobKey(r))]; ok {
		return fmt.Errorf("%w: %s", lease.ErrConflict, p)
	}
	return nil
}

// liveConflict refuses a reservation whose address (or prefix) is held by
// another client's lease that is still valid: the reservation would hand
// out an address in use.
func (s *Server) liveConflict(r *api.Reservation) error {
	now := s.now()
	check := func(l lease.Lease, ok bool, what string, mine func(*lease.Lease) bool) error {
		if !ok || !now.Before(l.Expiry) {
			return nil
		}
		switch l.State {
		case lease.StateBound, lease.StateOffered, lease.StateQuarantined, lease.StateDeclined:
		default:
			return nil
		}
		if mine(&l) {
			return nil
		}
		who := "hwaddr " + hexColon(l.HWAddr)
		if l.IsV6() {
			who = "DUID " + hexColon(l.ClientID)
		}
		return fmt.Errorf("%w: %s is %s by another client (%s) until %s; delete that lease first or choose another address",
			lease.ErrConflict, what, l.State, who, l.Expiry.UTC().Format(time.RFC3339))
	}
	if r.Family == 4 {
		lr := toLease4(r)
		l, ok := s.eng.Lookup(r.Address)
		return check(l, ok, r.Address.String(), lr.Matches)
	}
	duid := api.ParseHex(r.DUID)
	mine := func(l *lease.Lease) bool { return string(l.ClientID) == string(duid) }
	if r.Address.IsValid() {
		l, ok := s.v6.eng.Lookup(r.Address)
		if err := check(l, ok, r.Address.String(), mine); err != nil {
			return err
		}
	}
	if r.Prefix != "" {
		p, _ := netip.ParsePrefix(r.Prefix)
		// A delegated prefix is keyed by its first address; a binding of
		// another length that overlaps counts too.
		for _, l := range s.v6.eng.Leases(lease.Filter{From: p.Addr(), To: lastAddr6(p)}) {
			if l.PrefixLen == 0 {
				continue
			}
			if err := check(l, true, r.Prefix, mine); err != nil {
				return err
			}
		}
		for _, l := range s.v6.eng.Leases(lease.Filter{To: p.Addr(), States: []lease.State{lease.StateBound}}) {
			if l.PrefixLen != 0 && l.Addr.Less(p.Addr()) && netip.PrefixFrom(l.Addr, int(l.PrefixLen)).Contains(p.Addr()) {
				if err := check(l, true, r.Prefix, mine); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// lastAddr6 is the highest address of an IPv6 prefix.
func lastAddr6(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As16()
	for i := p.Bits(); i < 128; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return netip.AddrFrom16(b)
}

// DeleteReservation deletes a runtime reservation (api.Reservations). The
// client keeps its lease; it is no longer reserved, so once the lease
// ends the address returns to the pool (or stays out of it, outside the
// pool's sections/ranges).
func (s *Server) DeleteReservation(ctx context.Context, target string) (api.Reservation, error) {
	rs := &s.res
	rs.mu.Lock()
	defer rs.mu.Unlock()
	t, err := parseTarget(target)
	if err != nil {
		return api.Reservation{}, fmt.Errorf("%w: %v", api.ErrBadRequest, err)
	}
	i := slices.IndexFunc(rs.runtime, func(r api.Reservation) bool { return reservationHolds(&r, t) })
	if i < 0 {
		if where := s.configured(t); where != "" {
			return api.Reservation{}, fmt.Errorf("%w: %s is reserved in the configuration (pool %s); edit the configuration file and reload (SIGHUP) to remove it",
				api.ErrConfigured, t, where)
		}
		return api.Reservation{}, fmt.Errorf("%w: no runtime reservation for %s", lease.ErrNotFound, t)
	}
	r := rs.runtime[i]
	listed := s.listed(r)
	if err := s.persistBlobs(ctx, []store.Blob{{Kind: store.BlobReservation, Key: reservationBlobKey(&r)}}, "delete reservation "+r.Target()); err != nil {
		return api.Reservation{}, err
	}
	rs.runtime = slices.Delete(slices.Clone(rs.runtime), i, i+1)
	delete(rs.problems, string(reservationBlobKey(&r)))
	var aerr error
	switch {
	case r.Family == 4 && rs.base4 != nil:
		aerr = s.apply4()
	case r.Family == 6 && rs.base6 != nil && s.v6 != nil:
		aerr = s.apply6()
	}
	if aerr != nil {
		return api.Reservation{}, fmt.Errorf("server: apply the configuration without reservation %s: %w", r.Target(), aerr)
	}
	return listed, nil
}

// parseTarget parses an address or an IPv6 prefix.
func parseTarget(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is6() || p.Masked() != p {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or an IPv6 prefix", s)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or an IPv6 prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// reservationHolds reports whether r reserves t (an address as a full-
// length prefix, or a delegated prefix).
func reservationHolds(r *api.Reservation, t netip.Prefix) bool {
	if t.IsSingleIP() {
		return r.Address == t.Addr()
	}
	return r.Prefix == t.String()
}

// configured names the pool whose configured reservation holds t, "" when
// none does.
func (s *Server) configured(t netip.Prefix) string {
	rs := &s.res
	if rs.base4 != nil && t.Addr().Is4() {
		for i := range rs.base4.Pools {
			p := &rs.base4.Pools[i]
			for j := range p.Reservations {
				if p.Reservations[j].Addr == t.Addr() {
					return p.Name
				}
			}
		}
	}
	if rs.base6 != nil && t.Addr().Is6() {
		for i := range rs.base6.Pools {
			p := &rs.base6.Pools[i]
			for j := range p.Reservations {
				r := &p.Reservations[j]
				if t.IsSingleIP() && r.Addr == t.Addr() || !t.IsSingleIP() && r.Prefix.IsValid() && r.Prefix.Masked() == t {
					return p.Name
				}
			}
		}
	}
	return ""
}

// reservationBlobs yields the runtime reservations for a compaction.
func (s *Server) reservationBlobs() iter.Seq[store.Blob] {
	s.res.mu.Lock()
	list := slices.Clone(s.res.runtime)
	s.res.mu.Unlock()
	return func(yield func(store.Blob) bool) {
		for i := range list {
			v, err := json.Marshal(list[i])
			if err != nil {
				continue
			}
			if !yield(store.Blob{Kind: store.BlobReservation, Key: reservationBlobKey(&list[i]), Value: v}) {
				return
			}
		}
	}
}
