package lease

import "net/netip"

// Filter selects leases for the control API. Zero fields match everything.
type Filter struct {
	Pool    string
	Section *int
	// From..To is an inclusive address range; either may be invalid.
	From, To netip.Addr
	// Client matches a lease's hardware address (aa:bb:..), client id
	// (hex), or address, as the operator typed it.
	Client string
	// States restricts to these states; empty means every state except
	// free, offered and deleted.
	States []State
}

// PoolStats is the utilisation of one pool.
type PoolStats struct {
	Name     string
	Subnet   netip.Prefix
	Size     int // assignable addresses (sections minus exclusions and reservations' overlap)
	Bound    int
	Declined int // declined and quarantined (deleted while valid) addresses
	Offered  int
	// Reserved counts the reserved addresses (prefixes for a DHCPv6
	// "<pool>/pd" entry) inside the pool's sections or ranges that no
	// client holds now (not bound, offered or declined): set aside for
	// their client, not free for others. Size includes every reserved
	// address inside the sections, so Size - Bound - Declined - Offered -
	// Reserved is what is free.
	Reserved int
	Sections []SectionStats
}

// SectionStats is the utilisation of one section.
type SectionStats struct {
	Index      int
	Start, End netip.Addr
	Size       int
	Bound      int
	Declined   int
	Offered    int
}
