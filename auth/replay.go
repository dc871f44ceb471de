package auth

import (
	"sync/atomic"
	"time"
)

// Counter hands out replay detection values (RFC 3118 §2, RDM 0) for
// every message leased authenticates: DHCPACKs with a reconfigure key or a
// token, and FORCERENEWs. It is safe for concurrent use and reads no clock.
//
// # Scheme
//
// A value is a 64-bit fixed-point timestamp, seconds since the Unix epoch
// in the high 32 bits and the fraction of a second in the low 32 bits (the
// layout of an NTP timestamp; the Unix epoch instead of NTP's 1900 so the
// seconds do not wrap in 2036 but in 2106). Next returns the largest of
//
//   - the time floor TimeFloor(now),
//   - the last value this Counter handed out + 1 (server-wide, so values
//     strictly increase even if the clock steps back while running),
//   - the client's own last value + 1 (as persisted in its lease record,
//     lease.Lease.ReplayCounter).
//
// Because one server-wide sequence serves all clients, each client's
// values strictly increase, across ACKs and FORCERENEWs together (dhcpcd
// rejects an ACK that repeats the FORCERENEW's value).
//
// A restart never reuses a value when either of these holds:
//
//  1. the value was persisted before it was sent (leased writes the lease
//     record, with ReplayCounter, before an ACK leaves), and the caller
//     seeds the new Counter with the highest persisted value (NewCounter
//     or Observe while restoring leases) or passes the client's last value
//     to Next; or
//  2. the wall clock at restart is later than it was when the value was
//     handed out. A value exceeds the time floor of its moment only by the
//     number of values handed out faster than one per 2^-32 s (0.23 ns),
//     so a restart, which takes far longer, lands past every value handed
//     out before it. This covers FORCERENEWs, whose counters are not
//     persisted one by one.
//
// If the clock is stepped back across a restart and the last values were
// not persisted, values may repeat; persist the counter (case 1) where that
// matters.
type Counter struct {
	last atomic.Uint64
}

// NewCounter returns a Counter that hands out values above seed, the
// highest value persisted before (0 when none).
func NewCounter(seed uint64) *Counter {
	c := new(Counter)
	c.last.Store(seed)
	return c
}

// Observe raises the counter to at least v, e.g. for every lease restored
// from the store (lease.Lease.ReplayCounter).
func (c *Counter) Observe(v uint64) {
	for {
		cur := c.last.Load()
		if v <= cur || c.last.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Last is the highest value handed out or observed.
func (c *Counter) Last() uint64 { return c.last.Load() }

// Next returns a value greater than every value handed out or observed
// before, than clientLast (the last value sent to this client, 0 when
// none) and at least TimeFloor(now). The counter saturates at 2^64-1 (the
// time floor reaches it in 2106); from then on values repeat, and the
// caller must rotate keys instead.
func (c *Counter) Next(now time.Time, clientLast uint64) uint64 {
	floor := max(TimeFloor(now), inc(clientLast))
	for {
		cur := c.last.Load()
		v := max(floor, inc(cur))
		if c.last.CompareAndSwap(cur, v) {
			return v
		}
	}
}

func inc(v uint64) uint64 {
	if v == ^uint64(0) {
		return v
	}
	return v + 1
}

// TimeFloor is t as a 32.32 fixed-point number of seconds since the Unix
// epoch (0 before 1970).
func TimeFloor(t time.Time) uint64 {
	s := t.Unix()
	if s < 0 {
		return 0
	}
	if s >= 1<<32 {
		return ^uint64(0)
	}
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return uint64(s)<<32 | frac
}
