package server

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/leased/leased/dhcpv4"
	"github.com/leased/leased/lease"
)

// wireMsg builds a relayed BOOTREQUEST with the given options (type 0:
// no option 53, BOOTP).
func wireMsg(t *testing.T, typ dhcpv4.MessageType, mac byte, giaddr netip.Addr, opts ...rawOpt) []byte {
	t.Helper()
	h := dhcpv4.Header{Op: dhcpv4.BootRequest, HType: 1, HLen: 6, Hops: 1, XID: 0x4000 + uint32(mac), GIAddr: giaddr,
		CHAddr: [16]byte{2, 0, 0, 0, 0x44, mac}}
	var w dhcpv4.Writer
	w.Reset(make([]byte, 0, 600))
	w.Header(&h)
	if typ != 0 {
		w.OptionByte(dhcpv4.OptMessageType, byte(typ))
	}
	for _, o := range opts {
		w.Option(o.code, o.data)
	}
	b, err := w.End()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recvRaw reads one reply and decodes it, accepting a BOOTREPLY without
// message type.
func recvRaw(t *testing.T, r *testRelay) (*dhcpv4.Message, bool) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = r.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := r.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return nil, false
	}
	m := new(dhcpv4.Message)
	if err := m.Decode(buf[:n]); err != nil && !errors.Is(err, dhcpv4.ErrNoMessageType) {
		t.Fatalf("reply does not decode: %v", err)
	}
	return m, true
}

// TestWirePXEAndBOOTP: through the real engine and a loopback relay —
// PXE BIOS and UEFI clients (option 93) get their boot files and next
// server in the header, iPXE (user class) gets the script URL as option 67
// and file, a client on option 82 circuit-id "port-7" gets its reserved
// address and options, and a BOOTP client (no option 53) a BOOTREPLY.
func TestWirePXEAndBOOTP(t *testing.T) {
	cfg := loopConfig()
	p := &cfg.Pools[0]
	p.BOOTP = true
	p.Reservations = []lease.Reservation{{CircuitID: []byte("port-7"), Addr: netip.MustParseAddr("127.0.0.77"),
		Options: []lease.RawOption{{Code: 6, Data: []byte{127, 0, 0, 77}}}}}
	cfg.Classes = []lease.Class{
		{Name: "ipxe", Match: lease.Match{UserClass: lease.StrMatch{Op: lease.OpExact, Value: []byte("iPXE")}},
			Options: []lease.RawOption{{Code: 67, Data: []byte("http://127.0.0.5/boot.ipxe")}},
			Boot:    lease.Boot{File: []byte("http://127.0.0.5/boot.ipxe")}},
		{Name: "bios", Match: lease.Match{VendorClass: lease.StrMatch{Op: lease.OpPrefix, Value: []byte("PXEClient")}, Arch: []uint16{0}},
			Boot: lease.Boot{NextServer: netip.MustParseAddr("127.0.0.5"), File: []byte("undionly.kpxe")}},
		{Name: "uefi", Match: lease.Match{VendorClass: lease.StrMatch{Op: lease.OpPrefix, Value: []byte("PXEClient")}, Arch: []uint16{7, 9}},
			Boot: lease.Boot{NextServer: netip.MustParseAddr("127.0.0.5"), File: []byte("ipxe.efi")}},
	}
	s, _, _, relay, _ := runRealConfig(t, t.TempDir(), cfg)
	if err := s.Reload(cfg); err != nil { // as leased does: the server knows its configuration
		t.Fatal(err)
	}
	gi := netip.MustParseAddr("127.0.0.2")
	send := func(b []byte) {
		if _, err := relay.conn.WriteToUDPAddrPort(b, relay.server); err != nil {
			t.Fatal(err)
		}
	}
	pxe := rawOpt{dhcpv4.OptVendorClassID, []byte("PXEClient:Arch:00000:UNDI:002001")}
	for _, c := range []struct {
		name   string
		opts   []rawOpt
		file   string
		siaddr string
	}{
		{"bios", []rawOpt{pxe, {optClientArch, []byte{0, 0}}}, "undionly.kpxe", "127.0.0.5"},
		{"uefi", []rawOpt{pxe, {optClientArch, []byte{0, 7}}}, "ipxe.efi", "127.0.0.5"},
		{"ipxe", []rawOpt{pxe, {optClientArch, []byte{0, 7}}, {optUserClass, []byte("iPXE")}}, "http://127.0.0.5/boot.ipxe", "127.0.0.5"},
		{"plain", nil, "", "0.0.0.0"},
	} {
		send(wireMsg(t, dhcpv4.Discover, 1, gi, c.opts...))
		m, ok := recvRaw(t, relay)
		if !ok || m.Type() != dhcpv4.Offer {
			t.Fatalf("%s: no OFFER", c.name)
		}
		if string(m.File) != c.file || m.SIAddr.String() != c.siaddr {
			t.Errorf("%s: file %q siaddr %v, want %q %s", c.name, m.File, m.SIAddr, c.file, c.siaddr)
		}
		if v, _ := m.Option(dhcpv4.OptBootfileName); c.name == "ipxe" && string(v) != c.file {
			t.Errorf("ipxe: option 67 %q", v)
		}
	}

	// Option 82 circuit-id reservation.
	send(wireMsg(t, dhcpv4.Discover, 2, gi, rawOpt{dhcpv4.OptRelayAgentInfo, []byte("\x01\x06port-7")}))
	m, ok := recvRaw(t, relay)
	if !ok || m.YIAddr != netip.MustParseAddr("127.0.0.77") {
		t.Fatalf("circuit-id reservation: %v", m)
	}
	if v, _ := m.Option(dhcpv4.OptDNS); string(v) != "\x7f\x00\x00\x4d" {
		t.Errorf("reservation DNS %v", v)
	}

	// BOOTP.
	send(wireMsg(t, 0, 3, gi))
	m, ok = recvRaw(t, relay)
	if !ok || m.Op != dhcpv4.BootReply || m.Has(dhcpv4.OptMessageType) || !m.YIAddr.IsValid() || m.YIAddr.IsUnspecified() {
		t.Fatalf("BOOTP: %+v", m)
	}
	if m.Has(dhcpv4.OptLeaseTime) || !m.Has(dhcpv4.OptSubnetMask) {
		t.Error("BOOTREPLY options")
	}
	var found bool
	for _, l := range s.Leases(lease.Filter{}) {
		if l.Addr == m.YIAddr && l.State == lease.StateBound && l.Expiry.After(time.Now().AddDate(50, 0, 0)) {
			found = true
		}
	}
	if !found {
		t.Error("BOOTP binding not bound with an infinite lease")
	}
}
