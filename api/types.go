package api

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/leased/leased/lease"
)

// Health is the answer of GET /v1/health. The server fills it; the handler
// answers 200 when Status is "ok" or "degraded" (serving) and 503 when it
// is "failing" (or anything else), so a load balancer or a Kubernetes
// readiness probe can use the status code alone.
type Health struct {
	// Status is "ok", "degraded" (serving, but something needs the
	// operator: see Reasons) or "failing" (not serving normally: leases
	// are not acknowledged, a socket is down, starting or draining).
	Status string `json:"status"`
	// Reasons say why Status is not "ok", worst first; empty when ok.
	Reasons []HealthReason `json:"reasons,omitempty"`
	// Version is the server's build version (leased --version).
	Version string `json:"version"`
	// Revision is the VCS commit it was built from ("-dirty" when the
	// tree had uncommitted changes); absent when the build has no stamp.
	Revision      string  `json:"revision,omitempty"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	// Leases is the number of bound leases.
	Leases int `json:"leases"`
	// Pools is the number of configured pools.
	Pools int `json:"pools"`
	// Store names the lease store ("wal /var/lib/leased", "postgres").
	Store string `json:"store,omitempty"`
	// CommitErrors counts store commits that failed since start (each one
	// a request left unanswered).
	CommitErrors uint64 `json:"commit_errors"`
	// Message explains a Status other than "ok" in one line (the
	// reasons' codes and messages).
	Message string `json:"message,omitempty"`
	// ServerDUID is the DHCPv6 server's DUID in hex (option 2 of its
	// replies); absent when DHCPv6 is not served.
	ServerDUID string `json:"server_duid,omitempty"`
}

// HealthReason is one reason for a Health status other than "ok".
type HealthReason struct {
	// Code is machine-readable: starting, draining, store_commit_failing,
	// listener_down (severity failing); store_commit_errors,
	// store_compaction_failed, listener_errors, reload_failed,
	// restart_needed, interface_down (degraded).
	Code string `json:"code"`
	// Severity is "degraded" or "failing".
	Severity string `json:"severity"`
	// Message says what happened, when, and the error.
	Message string `json:"message"`
	// Since is when the condition began; absent for starting/draining.
	Since time.Time `json:"since,omitzero"`
}

// Lease is the JSON form of a lease record, DHCPv4 or DHCPv6. The
// reconfigure key is never exposed.
type Lease struct {
	// Family is 4 (DHCPv4) or 6 (DHCPv6).
	Family int `json:"family"`
	// Address is the leased address; for a delegated prefix (IA_PD) its
	// first address (Prefix gives the prefix).
	Address netip.Addr `json:"address"`
	// Prefix is the delegated prefix of an IA_PD binding ("fd77:100::/56");
	// absent otherwise.
	Prefix string `json:"prefix,omitempty"`
	// IAID is the identity association's id (DHCPv6 only).
	IAID *uint32 `json:"iaid,omitempty"`
	// DUID is the DHCPv6 client's DUID (option 1) in hex; absent for
	// DHCPv4 (client_id carries the same bytes).
	DUID string `json:"duid,omitempty"`
	// Preferred is the end of the preferred lifetime (DHCPv6 only);
	// expires is the end of the valid lifetime.
	Preferred         time.Time `json:"preferred,omitzero"`
	HWAddr            string    `json:"hwaddr"`    // aa:bb:cc:dd:ee:ff
	HType             uint8     `json:"htype"`     // ARP hardware type, 1 = Ethernet
	ClientID          string    `json:"client_id"` // hex
	Hostname          string    `json:"hostname"`
	Pool              string    `json:"pool"`
	Section           *int      `json:"section"` // null when the address is in no section
	State             string    `json:"state"`
	Start             time.Time `json:"start,omitzero"`
	T1                time.Time `json:"t1,omitzero"`
	T2                time.Time `json:"t2,omitzero"`
	Expires           time.Time `json:"expires,omitzero"`
	XID               string    `json:"xid"`              // "0x1234abcd"
	GIAddr            string    `json:"giaddr,omitempty"` // relay address, absent when not relayed
	RelayInfo         string    `json:"relay_info"`       // option 82, hex
	ForceRenewCapable bool      `json:"forcerenew_capable"`
	Seq               uint64    `json:"seq"`
}

// Pool is the JSON form of one pool's utilisation. A DHCPv6 pool that
// delegates prefixes appears twice: its addresses (kind "addresses", named
// as configured) and its delegation prefix (kind "prefixes", named
// "<pool>/pd", subnet the delegation prefix, size the number of delegable
// prefixes).
type Pool struct {
	Name     string       `json:"name"`
	Family   int          `json:"family"` // 4 or 6
	Kind     string       `json:"kind"`   // addresses or prefixes
	Subnet   netip.Prefix `json:"subnet"`
	Size     int          `json:"size"`
	Bound    int          `json:"bound"`
	Declined int          `json:"declined"`
	Offered  int          `json:"offered"`
	// Reserved counts reserved addresses (prefixes) inside the pool's
	// ranges that their client does not hold now: not free for others.
	Reserved int `json:"reserved"`
	// UsedPercent is (bound + declined + offered + reserved) / size ×
	// 100: the share of the pool a new client cannot get.
	UsedPercent float64   `json:"used_percent"`
	Sections    []Section `json:"sections"`
}

// Section is the JSON form of one section's utilisation.
type Section struct {
	Index       int        `json:"index"`
	Start       netip.Addr `json:"start"`
	End         netip.Addr `json:"end"`
	Size        int        `json:"size"`
	Bound       int        `json:"bound"`
	Declined    int        `json:"declined"`
	Offered     int        `json:"offered"`
	UsedPercent float64    `json:"used_percent"`
}

// ForceRenewResult is the answer of POST /v1/leases/{address}/forcerenew.
type ForceRenewResult struct {
	Address netip.Addr `json:"address"`
	// Status is "sent": the FORCERENEW left (its replay value is on disk).
	// Whether the client renews shows in the lease (its expiry moves).
	Status string `json:"status"`
}

// Error is the body of every 4xx and 5xx answer.
type Error struct {
	Error string `json:"error"`
}

// LeaseFromRecord converts an engine record to its JSON form. Times are
// given in UTC to the second.
func LeaseFromRecord(l *lease.Lease) Lease {
	j := Lease{
		Family:            4,
		Address:           l.Addr,
		HType:             l.HType,
		ClientID:          hex.EncodeToString(l.ClientID),
		Hostname:          l.Hostname,
		Pool:              l.Pool,
		State:             l.State.String(),
		Start:             utcSecond(l.Start),
		T1:                utcSecond(l.T1),
		T2:                utcSecond(l.T2),
		Expires:           utcSecond(l.Expiry),
		XID:               fmt.Sprintf("0x%08x", l.XID),
		RelayInfo:         hex.EncodeToString(l.RelayInfo),
		ForceRenewCapable: l.ForceRenewNonceCapable,
		Seq:               l.Seq,
	}
	if l.IsV6() {
		j.Family = 6
		iaid := l.IAID
		j.IAID = &iaid
		j.DUID = j.ClientID
		j.Preferred = utcSecond(l.Preferred)
		j.XID = fmt.Sprintf("0x%06x", l.XID&0xffffff)
		if p := l.Prefix(); p.IsValid() {
			j.Prefix = p.String()
		}
	}
	if len(l.HWAddr) > 0 {
		j.HWAddr = net.HardwareAddr(l.HWAddr).String()
	}
	if l.Section >= 0 {
		s := l.Section
		j.Section = &s
	}
	if l.GIAddr.IsValid() && !l.GIAddr.IsUnspecified() {
		j.GIAddr = l.GIAddr.String()
	}
	return j
}

// PoolFromStats converts engine statistics to their JSON form.
func PoolFromStats(p *lease.PoolStats) Pool {
	j := Pool{
		Name:        p.Name,
		Family:      4,
		Kind:        "addresses",
		Subnet:      p.Subnet,
		Size:        p.Size,
		Bound:       p.Bound,
		Declined:    p.Declined,
		Offered:     p.Offered,
		Reserved:    p.Reserved,
		UsedPercent: percent(p.Bound+p.Declined+p.Offered+p.Reserved, p.Size),
		Sections:    make([]Section, 0, len(p.Sections)),
	}
	if a := p.Subnet.Addr(); a.Is6() && !a.Is4In6() {
		j.Family = 6
		if strings.HasSuffix(p.Name, PDSuffix) {
			j.Kind = "prefixes"
		}
	}
	for _, s := range p.Sections {
		j.Sections = append(j.Sections, Section{
			Index:       s.Index,
			Start:       s.Start,
			End:         s.End,
			Size:        s.Size,
			Bound:       s.Bound,
			Declined:    s.Declined,
			Offered:     s.Offered,
			UsedPercent: percent(s.Bound+s.Declined+s.Offered, s.Size),
		})
	}
	return j
}

// PDSuffix ends the name of the pools-list entry of a DHCPv6 pool's
// prefix delegation (package lease6 reports it so).
const PDSuffix = "/pd"

// percent is used/size×100 rounded to one decimal; 0 for an empty pool.
func percent(used, size int) float64 {
	if size <= 0 {
		return 0
	}
	return float64(used*1000/size) / 10
}

func utcSecond(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Second)
}
