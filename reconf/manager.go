package reconf

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/leased/leased/lease"
)

// paceSlack is how far behind its schedule a paced group may catch up in
// one Due call (timer lateness, coalesced wake-ups). A group idle for
// longer restarts its schedule at now. Whatever the slack, the sliding
// log (group.log) keeps every one-second window at or under Pace.
const paceSlack = int64(time.Second)

// Manager runs reconfiguration campaigns. All methods are safe for
// concurrent use; one mutex guards the state.
//
// Every state change appends records that the server must persist; drain
// them with Records after each call (or batch of calls).
type Manager struct {
	mu     sync.Mutex
	nextID uint32
	camps  map[uint32]*campaign
	byPool map[string]*campaign // running campaigns by pool
	// pending clients of running campaigns: by address (IPv4 as
	// v4-mapped; every selected binding of a DHCPv6 client) and by client
	// key per family (0: DHCPv4 client id, 1: DHCPv6 DUID)
	byAddr  map[[16]byte]ref
	byKey   [2]map[string]ref
	actions []Action // queued for the next Due
	recs    []Record
}

type ref struct {
	c *campaign
	i int32
}

type campaign struct {
	hdr     header
	id      uint32
	groups  []group
	clients []client // sorted by address
	// more holds the other selected bindings of DHCPv6 clients that have
	// several (by client index); nil when none has.
	more   map[int32][][16]byte
	counts [numOutcomes]int
	sent   int
}

// header is the persisted description of a campaign.
type header struct {
	sel     Selector
	opts    Options
	state   State
	created int64 // unix ns
	ended   int64 // unix ns, 0 while running
	pools   []string
}

// group is the clients of one pool in a campaign, with the pool's
// resolved options and its own pace.
type group struct {
	opts Options
	base int64 // pacing: slot k is at base + k·1e9/Pace
	k    int64
	// log holds the times of the last Pace sends (a ring, allocated at
	// the first send): a send is allowed only if the Pace-th previous one
	// is at least a second old.
	log   []int64
	head  int
	sendQ queue // phSend clients by next send time
	waitQ queue // phWait/phDORA clients by give-up time
}

type phase uint8

const (
	phFinal phase = iota // outcome decided
	phSend               // FORCERENEW attempts left; next = time of the next one
	phWait               // attempts exhausted; next = give-up time
	phDORA               // NAKed or re-DISCOVERing; next = give-up time
	numPhases
)

// client is one selected client's progress (56 bytes): a DHCPv4 lease, or
// a DHCPv6 DUID's bindings (addr the representative one, the others in
// campaign.more).
type client struct {
	key     string
	next    int64    // unix ns, 0 when final
	when    int64    // unix ns of last
	addr    [16]byte // IPv4 as v4-mapped
	group   uint16
	sent    uint8
	outcome Outcome
	last    EventKind
	phase   phase
	capable bool
}

// NewManager returns a manager with no campaigns. Call Restore before the
// first Start when there is persisted state.
func NewManager() *Manager {
	return &Manager{
		nextID: 1,
		camps:  make(map[uint32]*campaign),
		byPool: make(map[string]*campaign),
		byAddr: make(map[[16]byte]ref),
		byKey:  [2]map[string]ref{make(map[string]ref), make(map[string]ref)},
	}
}

// a16 is the key of an address: IPv4 (plain or mapped) as v4-mapped.
func a16(a netip.Addr) [16]byte { return a.As16() }

// addrOf is the inverse of a16 (IPv4 unmapped).
func addrOf(b [16]byte) netip.Addr { return netip.AddrFrom16(b).Unmap() }

// is6 reports whether a client address is IPv6 (not v4-mapped).
func is6(b *[16]byte) bool { return !netip.AddrFrom16(*b).Is4In6() }

func famIdx(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}

func cmpAddr(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) }

func timeOf(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// wait is the pause after attempt number sent (1-based): Interval doubled
// sent-1 times.
func (g *group) wait(sent uint8) int64 {
	return int64(g.opts.Interval) << (sent - 1)
}

// doraWait is how long a NAKed or re-DISCOVERing client has to complete
// its DORA: the longest wait of the schedule.
func (g *group) doraWait() int64 { return g.wait(uint8(g.opts.Attempts)) }

// take spends one FORCERENEW of the group's pace at n, or reports false.
func (g *group) take(n int64) bool {
	if g.opts.Pace == 0 {
		return true
	}
	s := g.base + g.k*int64(time.Second)/int64(g.opts.Pace)
	if s < n-paceSlack {
		g.base, g.k, s = n, 0, n
	}
	if s > n {
		return false
	}
	if g.log == nil {
		g.log = make([]int64, g.opts.Pace)
		for i := range g.log {
			g.log[i] = math.MinInt64
		}
	}
	if g.log[g.head] > n-int64(time.Second) {
		return false
	}
	g.log[g.head] = n
	g.head = (g.head + 1) % len(g.log)
	g.k++
	return true
}

// nextSlot is the earliest time take could succeed.
func (g *group) nextSlot(n int64) int64 {
	if g.opts.Pace == 0 {
		return n
	}
	s := max(g.base+g.k*int64(time.Second)/int64(g.opts.Pace), n-paceSlack)
	if g.log != nil {
		s = max(s, g.log[g.head]+int64(time.Second))
	}
	return s
}

// Start begins a campaign over the bound leases of leases that sel
// matches. leases is typically Engine.Leases(lease.Filter{}) (DHCPv4)
// followed by lease6.Engine.Leases(lease.Filter{}) (DHCPv6); it is only
// read. DHCPv6 bindings with the same DUID in the same pool become one
// client; a DHCPv6 client is capable when it holds a reconfigure key
// (RFC 8415 §20.4, given only to clients that sent Reconfigure Accept
// when require_reconfigure_accept is on).
//
// A start identical (selector and options) to a running campaign returns
// that campaign and changes nothing. A start covering a pool that has a
// running campaign fails with *OverlapError. A selector that matches no
// bound lease fails with ErrNoClients.
func (m *Manager) Start(now time.Time, sel Selector, opts Options, leases []lease.Lease) (*CampaignStatus, error) {
	mt, err := sel.compile()
	if err != nil {
		return nil, err
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	n := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range m.byPool {
		if c.hdr.sel.equal(&sel) && c.hdr.opts.equal(&opts) {
			st := c.status()
			st.Existing = true
			return &st, nil
		}
	}

	var picked []int32
	var pools []string
	for i := range leases {
		l := &leases[i]
		if !mt.match(l, now) || !l.Addr.Is4() && !l.IsV6() {
			continue
		}
		picked = append(picked, int32(i))
		if !slices.Contains(pools, l.Pool) {
			pools = append(pools, l.Pool)
		}
	}
	if sel.Pool != "" && !slices.Contains(pools, sel.Pool) {
		pools = append(pools, sel.Pool)
	}
	slices.Sort(pools)
	for _, p := range pools {
		if r := m.byPool[p]; r != nil {
			return nil, &OverlapError{Pool: p, Running: r.status()}
		}
	}
	if len(picked) == 0 {
		return nil, fmt.Errorf("%w (%s)", ErrNoClients, sel)
	}
	if len(pools) > 1<<16 {
		return nil, fmt.Errorf("reconf: %d pools in one campaign: at most 65536", len(pools))
	}

	c := &campaign{id: m.nextID, hdr: header{sel: sel, opts: cloneOptions(opts), state: Running, created: n, pools: pools}}
	m.nextID++
	c.groups = make([]group, len(pools))
	groupV6 := make([]bool, len(pools))
	for _, li := range picked {
		if l := &leases[li]; l.IsV6() {
			gi, _ := slices.BinarySearch(pools, l.Pool)
			groupV6[gi] = true
		}
	}
	for gi, p := range pools {
		c.groups[gi].opts = opts.forPool(p, groupV6[gi])
	}
	type pick struct {
		cl   client
		pd   bool // the representative binding is a delegated prefix
		more [][16]byte
	}
	picks := make([]pick, 0, len(picked))
	var byDUID map[string]int // DHCPv6: DUID + pool -> index in picks
	for _, li := range picked {
		l := &leases[li]
		gi, _ := slices.BinarySearch(pools, l.Pool)
		g := &c.groups[gi]
		a, pd := a16(l.Addr), l.PrefixLen > 0
		capable := len(l.ReconfKey) > 0 || g.opts.AssumeCapable
		if l.IsV6() {
			if byDUID == nil {
				byDUID = make(map[string]int)
			}
			k := string(l.ClientID) + "\x00" + l.Pool
			if j, ok := byDUID[k]; ok {
				// Another binding of the same client: the representative
				// is its IA_NA address if any, else the lowest address.
				p := &picks[j]
				if p.pd && !pd || p.pd == pd && cmpAddr(a, p.cl.addr) < 0 {
					p.more = append(p.more, p.cl.addr)
					p.cl.addr, p.pd = a, pd
				} else {
					p.more = append(p.more, a)
				}
				p.cl.capable = p.cl.capable || capable
				continue
			}
			byDUID[k] = len(picks)
		}
		picks = append(picks, pick{pd: pd, cl: client{
			key: string(l.ClientID), addr: a, group: uint16(gi), when: n, last: EvSelected, capable: capable,
		}})
	}
	slices.SortFunc(picks, func(a, b pick) int { return cmpAddr(a.cl.addr, b.cl.addr) })
	c.clients = make([]client, len(picks))
	for j := range picks {
		c.clients[j] = picks[j].cl
		if more := picks[j].more; len(more) > 0 {
			if c.more == nil {
				c.more = make(map[int32][][16]byte)
			}
			slices.SortFunc(more, cmpAddr)
			c.more[int32(j)] = more
		}
	}
	for j := range c.clients {
		cl := &c.clients[j]
		g := &c.groups[cl.group]
		if cl.capable {
			cl.outcome, cl.phase, cl.next = Pending, phSend, n
			g.sendQ.push(entry{n, int32(j)})
		} else {
			cl.outcome, cl.phase = NotCapable, phFinal
			if g.opts.RecycleNotCapable {
				m.actions = append(m.actions, c.action(RecycleLease, int32(j)))
			}
		}
		c.counts[cl.outcome]++
	}
	m.camps[c.id] = c
	m.recs = slices.Grow(m.recs, len(c.clients)+2)
	m.emitHeader(c)
	for j := range c.clients {
		m.emitClient(c, int32(j))
	}
	if c.counts[Pending] == 0 {
		m.end(c, Done, n)
	} else {
		m.activate(c)
	}
	st := c.status()
	return &st, nil
}

func cloneOptions(o Options) Options {
	if o.Pools != nil {
		p := make(map[string]Override, len(o.Pools))
		for k, v := range o.Pools {
			p[k] = v
		}
		o.Pools = p
	}
	return o
}

// activate indexes a running campaign's pending clients.
func (m *Manager) activate(c *campaign) {
	for _, p := range c.hdr.pools {
		m.byPool[p] = c
	}
	for j := range c.clients {
		cl := &c.clients[j]
		if cl.outcome == Pending {
			r := ref{c, int32(j)}
			m.byAddr[cl.addr] = r
			for _, a := range c.more[int32(j)] {
				m.byAddr[a] = r
			}
			m.byKey[famIdx(is6(&cl.addr))][cl.key] = r
		}
	}
}

func (m *Manager) unindex(c *campaign, i int32) {
	cl := &c.clients[i]
	m.unindexAddr(c, i, cl.addr)
	for _, a := range c.more[i] {
		m.unindexAddr(c, i, a)
	}
	byKey := m.byKey[famIdx(is6(&cl.addr))]
	if r, ok := byKey[cl.key]; ok && r.c == c && r.i == i {
		delete(byKey, cl.key)
	}
}

func (m *Manager) unindexAddr(c *campaign, i int32, a [16]byte) {
	if r, ok := m.byAddr[a]; ok && r.c == c && r.i == i {
		delete(m.byAddr, a)
	}
}

// action builds an action about client i. A send is a FORCERENEW for a
// DHCPv4 client and a Reconfigure for a DHCPv6 one.
func (c *campaign) action(k ActionKind, i int32) Action {
	cl := &c.clients[i]
	a := Action{Kind: k, Campaign: c.id, Addr: addrOf(cl.addr), Key: []byte(cl.key)}
	c.fill(&a, i)
	return a
}

// keyArena hands out the copies of client keys for the actions of one Due
// call from shared chunks: one allocation per keyChunk bytes of keys
// instead of one per action (an unpaced 100,000-client campaign returns
// 100,000 actions at once).
type keyArena []byte

const keyChunk = 16 << 10

// copy returns a copy of k that no other copy shares (capacity = length).
func (ka *keyArena) copy(k string) []byte {
	if len(k) > keyChunk/8 {
		return []byte(k)
	}
	if cap(*ka)-len(*ka) < len(k) {
		*ka = make([]byte, 0, keyChunk)
	}
	n := len(*ka)
	*ka = append(*ka, k...)
	return (*ka)[n : n+len(k) : n+len(k)]
}

// dueAction is action for Due: the key copied from ka.
func (c *campaign) dueAction(k ActionKind, i int32, ka *keyArena) Action {
	cl := &c.clients[i]
	a := Action{Kind: k, Campaign: c.id, Addr: addrOf(cl.addr), Key: ka.copy(cl.key)}
	c.fill(&a, i)
	return a
}

// fill sets what an action about client i carries besides its key.
func (c *campaign) fill(a *Action, i int32) {
	cl := &c.clients[i]
	if a.Kind == SendForceRenew && is6(&cl.addr) {
		a.Kind, a.Msg = SendReconfigure, c.groups[cl.group].opts.ReconfMsg
	}
	a.More = c.moreAddrs(i)
}

func (c *campaign) moreAddrs(i int32) []netip.Addr {
	more := c.more[i]
	if len(more) == 0 {
		return nil
	}
	out := make([]netip.Addr, len(more))
	for k, a := range more {
		out[k] = addrOf(a)
	}
	return out
}

// hasAddr reports whether a is one of client i's selected bindings.
func (c *campaign) hasAddr(i int32, a [16]byte) bool {
	return c.clients[i].addr == a || slices.Contains(c.more[i], a)
}

// end finishes a campaign in state s.
func (m *Manager) end(c *campaign, s State, n int64) {
	c.hdr.state, c.hdr.ended = s, n
	for _, p := range c.hdr.pools {
		if m.byPool[p] == c {
			delete(m.byPool, p)
		}
	}
	for j := range c.groups {
		c.groups[j].sendQ, c.groups[j].waitQ = nil, nil
	}
	m.emitHeader(c)
}

// finish gives a pending client its outcome.
func (m *Manager) finish(c *campaign, i int32, o Outcome, ev EventKind, n int64) {
	cl := &c.clients[i]
	c.counts[cl.outcome]--
	c.counts[o]++
	cl.outcome, cl.phase, cl.last, cl.when, cl.next = o, phFinal, ev, n, 0
	m.unindex(c, i)
	m.emitClient(c, i)
	if c.counts[Pending] == 0 && c.hdr.state == Running {
		m.end(c, Done, n)
	}
}

// Due returns what must be done now: FORCERENEW sends whose time has come
// within each pool's pace, and the on-failure actions of clients whose
// attempts are exhausted. Sends are marked as done when returned.
func (m *Manager) Due(now time.Time) []Action {
	n := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.actions
	m.actions = nil
	var ka keyArena
	// add appends with doubling growth: append grows a large slice by only
	// a quarter, i.e. allocates ~5 times the final 100,000 actions.
	add := func(a Action) {
		if len(out) == cap(out) {
			out = slices.Grow(out, max(len(out), 64))
		}
		out = append(out, a)
	}
	for _, c := range m.running() {
		for gi := range c.groups {
			g := &c.groups[gi]
			for {
				e, ok := g.waitQ.peek()
				if !ok || e.at > n {
					break
				}
				g.waitQ.pop()
				cl := &c.clients[e.i]
				if cl.next != e.at || (cl.phase != phWait && cl.phase != phDORA) {
					continue
				}
				m.finish(c, e.i, NoResponse, EvTimeout, n)
				switch g.opts.OnFailure {
				case Delete:
					add(c.dueAction(DeleteLease, e.i, &ka))
				case Recycle:
					add(c.dueAction(RecycleLease, e.i, &ka))
				}
			}
			for {
				e, ok := g.sendQ.peek()
				if !ok || e.at > n {
					break
				}
				cl := &c.clients[e.i]
				if cl.next != e.at || cl.phase != phSend {
					g.sendQ.pop()
					continue
				}
				if !g.take(n) {
					break
				}
				g.sendQ.pop()
				cl.sent++
				c.sent++
				cl.last, cl.when = EvForceRenew, n
				cl.next = n + g.wait(cl.sent)
				if int(cl.sent) < g.opts.Attempts {
					g.sendQ.push(entry{cl.next, e.i})
				} else {
					cl.phase = phWait
					g.waitQ.push(entry{cl.next, e.i})
				}
				m.emitClient(c, e.i)
				a := c.dueAction(SendForceRenew, e.i, &ka)
				a.Attempt = int(cl.sent)
				add(a)
			}
		}
	}
	return out
}

// running returns the running campaigns in ID order.
func (m *Manager) running() []*campaign {
	var cs []*campaign
	for _, c := range m.byPool {
		if !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b *campaign) int { return cmp.Compare(a.id, b.id) })
	return cs
}

// NextWake returns when Due next has something to do (now or earlier if it
// has already), or the zero time when nothing is scheduled. A server may
// sleep a little longer to batch sends; Due catches up within the pace.
func (m *Manager) NextWake(now time.Time) time.Time {
	n := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.actions) > 0 {
		return now
	}
	best := int64(0)
	consider := func(t int64) {
		if best == 0 || t < best {
			best = t
		}
	}
	for _, c := range m.running() {
		for gi := range c.groups {
			g := &c.groups[gi]
			for {
				e, ok := g.waitQ.peek()
				if !ok {
					break
				}
				if cl := &c.clients[e.i]; cl.next != e.at || (cl.phase != phWait && cl.phase != phDORA) {
					g.waitQ.pop()
					continue
				}
				consider(e.at)
				break
			}
			for {
				e, ok := g.sendQ.peek()
				if !ok {
					break
				}
				if cl := &c.clients[e.i]; cl.next != e.at || cl.phase != phSend {
					g.sendQ.pop()
					continue
				}
				consider(max(e.at, g.nextSlot(n)))
				break
			}
		}
	}
	return timeOf(best)
}

// lookup finds the pending client an event is about: by client key when
// the event has one, else by address. A DHCPv6 event with an address is
// matched by that binding first (a DUID may have bindings in two pools,
// i.e. on two links, each its own campaign client), then by DUID.
func (m *Manager) lookup(ev *Event) (ref, bool) {
	v6 := ev.V6 || ev.Addr.Is6() && !ev.Addr.Is4In6()
	if v6 && ev.Addr.IsValid() {
		if r, ok := m.byAddr[a16(ev.Addr)]; ok {
			return r, true
		}
	}
	if len(ev.Key) > 0 {
		r, ok := m.byKey[famIdx(v6)][string(ev.Key)]
		return r, ok
	}
	if ev.Addr.IsValid() {
		r, ok := m.byAddr[a16(ev.Addr)]
		return r, ok
	}
	return ref{}, false
}

// Observe tells the manager what happened to a client (see the events
// table in README.md). It returns the client's progress after the event
// and true, or false when the client is not pending in a running campaign
// (then nothing changes).
func (m *Manager) Observe(now time.Time, ev Event) (ClientProgress, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.observe(now.UnixNano(), &ev)
	if !ok {
		return ClientProgress{}, false
	}
	return r.c.progress(r.i), true
}

// Note is Observe without the client's progress, which the server's
// per-message path does not need (and should not allocate): it reports
// whether the event was about a pending client of a running campaign.
func (m *Manager) Note(now time.Time, ev Event) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.observe(now.UnixNano(), &ev)
	return ok
}

// observe applies ev at n (under mu) and returns the client it was about.
func (m *Manager) observe(n int64, ev *Event) (ref, bool) {
	r, ok := m.lookup(ev)
	if !ok {
		return ref{}, false
	}
	c, i := r.c, r.i
	cl := &c.clients[i]
	g := &c.groups[cl.group]
	switch ev.Kind {
	case EvDiscover, EvNak:
		// The client is (or is about to be) in INIT: a FORCERENEW to its
		// old address is pointless; wait for its DORA to complete.
		cl.last, cl.when = ev.Kind, n
		cl.phase = phDORA
		cl.next = n + g.doraWait()
		g.waitQ.push(entry{cl.next, i})
		m.emitClient(c, i)
	case EvRequestRenew, EvRequestRebind, EvRequestInitReboot:
		// The outcome waits for the engine's answer (EvAck / EvNak); if
		// none comes the schedule goes on. Only in memory: a request
		// changes neither the schedule nor the outcome, and its answer,
		// which follows at once, is recorded (one record per client and
		// outcome instead of two; after a restart the client's last event
		// is the one before, and it asks again).
		cl.last, cl.when = ev.Kind, n
	case EvAck:
		// Rebound: the ACK ends a new DORA (the client was NAKed or sent
		// its own DISCOVER) or moved it to another address. An ACK to a
		// renew, rebind or init-reboot of the same address is a renewal
		// even after a NAK — the client did not see the NAK (or ignored
		// it) and simply renewed.
		o := Renewed
		renewing := cl.last == EvRequestRenew || cl.last == EvRequestRebind || cl.last == EvRequestInitReboot
		if ev.Addr.IsValid() && !c.hasAddr(i, a16(ev.Addr)) || cl.phase == phDORA && !renewing {
			o = Rebound
		}
		m.finish(c, i, o, EvAck, n)
	case EvInform:
		// RFC 3203 §3 / RFC 8415 §18.2.11: an Information-request is how a
		// client answers a Reconfigure asking for one.
		o := Informed
		if is6(&cl.addr) && g.opts.ReconfMsg == ReconfInformationRequest {
			o = Renewed
		}
		m.finish(c, i, o, EvInform, n)
	case EvRelease:
		m.finish(c, i, Released, EvRelease, n)
	case EvDecline:
		m.finish(c, i, Declined, EvDecline, n)
	case EvExpired:
		m.finish(c, i, Expired, EvExpired, n)
	case EvDeleted:
		m.finish(c, i, Deleted, EvDeleted, n)
	default:
		return ref{}, false
	}
	return r, true
}

// ShouldNAK reports whether the server must NAK a renew, rebind or
// init-reboot for addr instead of ACKing it: the client is pending in a
// running campaign with ForceNAK and has not been NAKed yet. For a DHCPv6
// address (any selected binding of the client) it means: answer the
// Renew/Rebind with lifetime 0 (lease6.Request.ForceRebind).
func (m *Manager) ShouldNAK(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byAddr[a16(addr)]
	return ok && r.forced()
}

// ShouldForceRebind is ShouldNAK for a DHCPv6 client by DUID: the server
// sets lease6.Request.ForceRebind on its Renew or Rebind, so the engine
// answers with lifetime 0 and the client Solicits again (the v4 NAK ->
// DORA path).
func (m *Manager) ShouldForceRebind(duid []byte) bool {
	if len(duid) == 0 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.byKey[1][string(duid)]
	return ok && r.forced()
}

func (r ref) forced() bool {
	cl := &r.c.clients[r.i]
	return r.c.groups[cl.group].opts.ForceNAK && (cl.phase == phSend || cl.phase == phWait)
}

// Stop ends a running campaign: clients still pending become aborted and
// their leases stay as they are.
func (m *Manager) Stop(now time.Time, id uint32) (*CampaignStatus, error) {
	n := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.camps[id]
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if c.hdr.state != Running {
		return nil, fmt.Errorf("%w: campaign %d is %s", ErrNotRunning, id, c.hdr.state)
	}
	m.abort(c, Stopped, EvStop, n)
	st := c.status()
	return &st, nil
}

func (m *Manager) abort(c *campaign, s State, ev EventKind, n int64) {
	c.hdr.state = s // before finish, so it does not end the campaign as Done
	for j := range c.clients {
		if c.clients[j].outcome == Pending {
			m.finish(c, int32(j), Aborted, ev, n)
		}
	}
	m.end(c, s, n)
}

// Running returns the running campaign that covers pool, if any.
func (m *Manager) Running(pool string) (CampaignStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.byPool[pool]
	if !ok {
		return CampaignStatus{}, false
	}
	return c.status(), true
}

// Status returns one campaign.
func (m *Manager) Status(id uint32) (CampaignStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.camps[id]
	if !ok {
		return CampaignStatus{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	return c.status(), nil
}

// List returns every campaign the manager knows, by ID.
func (m *Manager) List() []CampaignStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]CampaignStatus, 0, len(m.camps))
	for _, c := range m.camps {
		out = append(out, c.status())
	}
	slices.SortFunc(out, func(a, b CampaignStatus) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Clients returns the clients of a campaign matching f, by address.
func (m *Manager) Clients(id uint32, f ClientFilter) ([]ClientProgress, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.camps[id]
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	start := 0
	if f.After.IsValid() {
		a := a16(f.After)
		start = sort.Search(len(c.clients), func(j int) bool { return cmpAddr(c.clients[j].addr, a) > 0 })
	}
	var out []ClientProgress
	for j := start; j < len(c.clients); j++ {
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
		if len(f.Outcomes) > 0 && !slices.Contains(f.Outcomes, c.clients[j].outcome) {
			continue
		}
		out = append(out, c.progress(int32(j)))
	}
	return out, nil
}

// Forget removes a campaign that is no longer running (retention).
func (m *Manager) Forget(id uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.camps[id]
	if !ok {
		return fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if c.hdr.state == Running {
		return fmt.Errorf("%w: campaign %d is running: stop it first", ErrRunning, id)
	}
	m.forget(id)
	return nil
}

func (m *Manager) forget(id uint32) {
	delete(m.camps, id)
	m.recs = append(m.recs, Record{kind: recForget, camp: id})
}

// Prune forgets finished campaigns (done, stopped, halted): those that
// ended at or before now-maxAge (maxAge > 0), and the oldest beyond the
// keep most recently ended (keep > 0). Running campaigns are never
// pruned. It returns the IDs forgotten, in order; each leaves a tombstone
// record like Forget.
func (m *Manager) Prune(now time.Time, maxAge time.Duration, keep int) []uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var fin []*campaign
	for _, c := range m.camps {
		if c.hdr.state != Running {
			fin = append(fin, c)
		}
	}
	// newest first: by end time, then ID
	slices.SortFunc(fin, func(a, b *campaign) int {
		return cmp.Or(cmp.Compare(b.hdr.ended, a.hdr.ended), cmp.Compare(b.id, a.id))
	})
	cut := now.Add(-maxAge).UnixNano()
	var out []uint32
	for i, c := range fin {
		if keep > 0 && i >= keep || maxAge > 0 && c.hdr.ended <= cut {
			out = append(out, c.id)
		}
	}
	slices.Sort(out)
	for _, id := range out {
		m.forget(id)
	}
	return out
}

// ReserveIDs makes new campaigns get IDs above id: the server calls it
// with the highest campaign ID found in the store, including records of
// forgotten campaigns not yet compacted away, so a new campaign never
// takes the ID (and the stale records) of a deleted one.
func (m *Manager) ReserveIDs(id uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextID = max(m.nextID, id+1)
}

func (c *campaign) status() CampaignStatus {
	return CampaignStatus{
		ID: c.id, Selector: c.hdr.sel, Options: cloneOptions(c.hdr.opts), State: c.hdr.state,
		Created: timeOf(c.hdr.created), Ended: timeOf(c.hdr.ended), Pools: slices.Clone(c.hdr.pools),
		Clients: len(c.clients), Sent: c.sent, Counts: countsOf(&c.counts), PoolOptions: c.poolOptions(),
	}
}

func (c *campaign) poolOptions() []Options {
	out := make([]Options, len(c.groups))
	for i := range c.groups {
		out[i] = c.groups[i].opts
	}
	return out
}

func (c *campaign) progress(i int32) ClientProgress {
	cl := &c.clients[i]
	fam := 4
	if is6(&cl.addr) {
		fam = 6
	}
	return ClientProgress{
		Campaign: c.id, Addr: addrOf(cl.addr), More: c.moreAddrs(i), Family: fam, Key: []byte(cl.key), Pool: c.hdr.pools[cl.group],
		Capable: cl.capable, Sent: int(cl.sent), Next: timeOf(cl.next), Outcome: cl.outcome,
		Last: cl.last, When: timeOf(cl.when),
	}
}

// Deleted records that the server deleted the lease of a client of
// campaign id that was never sent a message because it was not capable at
// the start (Server.Disconnect with on-failure delete does that at once).
// Its outcome becomes Deleted (last event EvDeleted) and its Capable stays
// false, so its progress still says why. addr is any of its selected
// bindings. Errors wrap ErrNotFound (no such campaign or client) or say
// the client is not not_capable; a pending client's deletion is reported
// with Observe(EvDeleted) instead.
func (m *Manager) Deleted(now time.Time, id uint32, addr netip.Addr) (CampaignStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.camps[id]
	if !ok {
		return CampaignStatus{}, fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	a := a16(addr)
	for j := range c.clients {
		if !c.hasAddr(int32(j), a) {
			continue
		}
		if o := c.clients[j].outcome; o != NotCapable {
			return c.status(), fmt.Errorf("reconf: campaign %d: client %v is %s, not %s", id, addr, o, NotCapable)
		}
		m.finish(c, int32(j), Deleted, EvDeleted, now.UnixNano())
		return c.status(), nil
	}
	return c.status(), fmt.Errorf("%w: campaign %d has no client %v", ErrNotFound, id, addr)
}
