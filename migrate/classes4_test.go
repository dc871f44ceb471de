package migrate

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/config"
)

// Kea class tests leased classes express, pools' client-class, and
// reservations by circuit-id with options, boot fields and classes.
func TestKeaClasses4(t *testing.T) {
	src := `{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "eth1" ] }, "server-hostname": "boot.example", "next-server": "10.0.0.1",
  "client-classes": [
    { "name": "pxe-bios", "test": "option[93].hex == 0x0000", "boot-file-name": "undionly.kpxe", "next-server": "10.0.0.5" },
    { "name": "uefi", "test": "option[93].hex == 0x0007 and not member('KNOWN')", "boot-file-name": "ipxe.efi" },
    { "name": "ipxe", "test": "option[77].text == 'iPXE'", "option-data": [ { "name": "boot-file-name", "data": "http://10.0.0.5/boot.ipxe" } ] },
    { "name": "phones", "test": "option[60].text == 'Aastra'", "option-data": [ { "name": "time-offset", "data": "3600" } ] },
    { "name": "oui", "test": "substring(pkt4.mac,0,3) == 0x525400" },
    { "name": "one mac", "test": "pkt4.mac == 0x525400000001" },
    { "name": "port7", "test": "relay4[1].hex == 'ge-0/0/7' and relay4[2].hex == 0x0102" },
    { "name": "cid", "test": "option[61].hex == 0x01525400000002" },
    { "name": "fancy", "test": "option[60].text == 'a' or option[60].text == 'b'" },
    { "name": "tagged" }
  ],
  "subnet4": [ {
    "id": 1, "subnet": "10.0.0.0/24",
    "client-class": "phones", "next-server": "10.0.0.9", "boot-file-name": "pxelinux.0",
    "pools": [ { "pool": "10.0.0.10 - 10.0.0.19", "client-class": "KNOWN" },
               { "pool": "10.0.0.20 - 10.0.0.29", "client-class": "fancy" },
               { "pool": "10.0.0.30 - 10.0.0.39", "require-client-classes": [ "uefi" ] } ],
    "reservations": [
      { "circuit-id": "'ge-0/0/7'", "ip-address": "10.0.0.50",
        "option-data": [ { "name": "domain-name-servers", "data": "10.0.0.2, 10.0.0.3" }, { "code": 19, "data": "true" },
                         { "name": "routers", "data": "not-an-ip" } ],
        "next-server": "10.0.0.6", "server-hostname": "tftp", "boot-file-name": "pxelinux.0",
        "client-classes": [ "tagged", "fancy" ] },
      { "circuit-id": "01:02:03", "ip-address": "10.0.0.51", "client-classes": [ "tagged" ] },
      { "duid": "01:02:03:04", "ip-address": "10.0.0.52" }
    ] } ] } }`
	r, err := FromKea("k.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("k.yaml", r.YAML)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.YAML)
	}
	var items []string
	for _, it := range r.Skipped {
		items = append(items, it.String())
	}
	byName := map[string]config.ClientClass{}
	for _, k := range c.DHCPv4.ClientClasses {
		byName[k.Name] = k
	}
	m := func(n string) config.ClassMatch { return byName[n].Match }
	bv := func(b *config.BytesValue) string {
		if b == nil {
			return ""
		}
		return string(*b)
	}
	if len(byName) != 9 || byName["fancy"].Name != "" {
		t.Fatalf("classes %v (fancy must be left out)\n%s", c.DHCPv4.ClientClasses, r.YAML)
	}
	if !slices.Equal(m("pxe-bios").ClientArch, []int{0}) || byName["pxe-bios"].Boot.File != "undionly.kpxe" || byName["pxe-bios"].Boot.NextServer.String() != "10.0.0.5" {
		t.Errorf("pxe-bios %+v", byName["pxe-bios"])
	}
	if !slices.Equal(m("uefi").ClientArch, []int{7}) || m("uefi").Known == nil || *m("uefi").Known {
		t.Errorf("uefi %+v", m("uefi"))
	}
	if m("ipxe").UserClass == nil || bv(m("ipxe").UserClass.Exact) != "iPXE" || byName["ipxe"].Options[0].Name != "boot-file-name" {
		t.Errorf("ipxe %+v", byName["ipxe"])
	}
	if m("phones").VendorClass == nil || bv(m("phones").VendorClass.Exact) != "Aastra" || string(byName["phones"].Options[0].Value) != "3600" {
		t.Errorf("phones %+v", byName["phones"])
	}
	if m("oui").HWAddr != "52:54:00/24" || m("one-mac").HWAddr != "52:54:00:00:00:01/48" {
		t.Errorf("hwaddr %q %q", m("oui").HWAddr, m("one-mac").HWAddr)
	}
	if bv(m("port7").CircuitID.Exact) != "ge-0/0/7" || bv(m("port7").RemoteID.Exact) != "0x0102" && string(*m("port7").RemoteID.Exact) != "\x01\x02" {
		t.Errorf("port7 %+v", m("port7"))
	}
	if m("cid").ClientID == nil || bv(m("cid").ClientID.Exact) != "\x01\x52\x54\x00\x00\x00\x02" {
		t.Errorf("cid %+v", m("cid"))
	}
	p := c.DHCPv4.Pools[0]
	if p.Boot.NextServer.String() != "10.0.0.9" || p.Boot.File != "pxelinux.0" || p.Boot.ServerName != "boot.example" {
		t.Errorf("subnet boot fields %+v", p.Boot)
	}
	if !slices.Equal(p.Allow, []string{"phones"}) || !slices.Equal(p.Sections[0].Allow, []string{"known"}) || p.Sections[1].Allow != nil {
		t.Errorf("allow: pool %v sections %+v", p.Allow, p.Sections)
	}
	if len(p.Reservations) != 2 {
		t.Fatalf("reservations %+v", p.Reservations)
	}
	res := p.Reservations[0]
	if string(res.CircuitID) != "ge-0/0/7" || res.Boot.NextServer.String() != "10.0.0.6" || res.Boot.ServerName != "tftp" || res.Boot.File != "pxelinux.0" ||
		len(res.Options) != 2 || res.Options[0].Name != "domain-name-servers" || res.Options[1].Name != "ip-forwarding" || !slices.Equal(res.ClientClasses, []string{"tagged"}) {
		t.Errorf("reservation %+v", res)
	}
	if string(p.Reservations[1].CircuitID) != "\x01\x02\x03" {
		t.Errorf("hex circuit-id %q", p.Reservations[1].CircuitID)
	}
	for _, want := range []string{
		`k.json:12: client class "fancy": test "option[60].text == 'a' or option[60].text == 'b'"`,
		`k.json:19: pool 10.0.0.20 - 10.0.0.29 client-class: client class "fancy" was not carried over`,
		`k.json:20: require-client-classes`,
		`k.json:24: reservation of 10.0.0.50: option "routers" (0) = "not-an-ip"`,
		`k.json:26: reservation of 10.0.0.50: client class "fancy" was not carried over`,
		`k.json:28: reservation of 10.0.0.52: identified neither`,
	} {
		if !has(items, want) {
			t.Errorf("report lacks %q:\n%s", want, strings.Join(items, "\n"))
		}
	}
}

func TestKeaTest4(t *testing.T) {
	for _, bad := range []string{
		"option[60].text == 'a' or option[60].text == 'b'",
		"substring(option[60].hex,0,3) == 'PXEClient'",
		"option[60].text == 'a' and option[60].text == 'b'",
		"pkt4.giaddr == 10.0.0.1",
		"member('voip')",
		"option[93].hex == 0x0000 and option[93].hex == 0x0007",
	} {
		if m, why := keaTest4(bad); m != nil || why == "" {
			t.Errorf("%s: converted to %+v", bad, m)
		}
	}
	if m, why := keaTest4("substring(option[60].hex,0,9) == 'PXEClient'"); m == nil || m.VendorClass.Prefix != "PXEClient" {
		t.Errorf("PXEClient prefix: %+v %s", m, why)
	}
}

// dhcpd classes, pool access, per-host options and boot fields.
func TestDhcpdClasses(t *testing.T) {
	src := `authoritative;
default-lease-time 30;
next-server 10.0.0.4;
class "pxe" {
  match if substring (option vendor-class-identifier, 0, 9) = "PXEClient";
  filename "undionly.kpxe";
  option tftp-server-name "10.0.0.4";
}
class "ipxe" { match if option user-class = "iPXE"; filename "http://10.0.0.4/boot.ipxe"; }
class "oui" { match if substring (hardware, 1, 3) = 52:54:0; }
class "port" { match if option agent.circuit-id = "eth0"; }
class "fancy" { match if option vendor-class-identifier = "a" or option user-class = "b"; }
class "sub" { match pick-first-value (option dhcp-client-identifier, hardware); }
subnet 10.0.0.0 netmask 255.255.255.0 {
  pool { allow members of "pxe"; allow members of "ipxe"; range 10.0.0.10 10.0.0.19; }
  pool { deny unknown-clients; range 10.0.0.20 10.0.0.29; }
  pool { deny members of "oui"; allow known-clients; range 10.0.0.30 10.0.0.39; }
  pool { allow members of "fancy"; range 10.0.0.40 10.0.0.49; }
  pool { allow dynamic bootp clients; range 10.0.0.50 10.0.0.59; }
}
host a {
  hardware ethernet 52:54:00:00:00:01;
  fixed-address 10.0.0.100;
  option domain-name-servers 10.0.0.2, 10.0.0.3;
  option host-name "alpha";
  option ip-forwarding off;
  option routers gw.example.org;
  next-server 10.0.0.5;
  server-name "boot1";
  filename "pxelinux.0";
}
host b {
  host-identifier option agent.circuit-id "ge-0/0/7";
  fixed-address 10.0.0.101;
}
subnet 10.1.0.0 netmask 255.255.255.0 { range dynamic-bootp 10.1.0.10 10.1.0.20; range 10.1.0.30 10.1.0.40; }
`
	r, err := FromDhcpd("d.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("d.yaml", r.YAML)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.YAML)
	}
	var items []string
	for _, it := range r.Skipped {
		items = append(items, it.String())
	}
	byName := map[string]config.ClientClass{}
	for _, k := range c.DHCPv4.ClientClasses {
		byName[k.Name] = k
	}
	if len(byName) != 4 {
		t.Fatalf("classes %+v\n%s", c.DHCPv4.ClientClasses, r.YAML)
	}
	if m := byName["pxe"].Match; m.VendorClass == nil || string(*m.VendorClass.Prefix) != "PXEClient" || byName["pxe"].Boot.File != "undionly.kpxe" ||
		byName["pxe"].Options[0].Name != "tftp-server-name" {
		t.Errorf("pxe %+v", byName["pxe"])
	}
	if m := byName["ipxe"].Match; m.UserClass == nil || string(*m.UserClass.Exact) != "iPXE" {
		t.Errorf("ipxe %+v", m)
	}
	if byName["oui"].Match.HWAddr != "52:54:00/24" || byName["port"].Match.CircuitID == nil || string(*byName["port"].Match.CircuitID.Exact) != "eth0" {
		t.Errorf("oui %+v port %+v", byName["oui"].Match, byName["port"].Match)
	}
	p := c.DHCPv4.Pools[0]
	if p.LeaseTime.D() != 30*time.Second {
		t.Errorf("lease time %v, want dhcpd's 30s", p.LeaseTime.D())
	}
	if p.Boot.NextServer.String() != "10.0.0.4" {
		t.Errorf("pool boot %+v", p.Boot)
	}
	s := p.Sections
	if len(s) != 5 || !slices.Equal(s[0].Allow, []string{"pxe", "ipxe"}) || !slices.Equal(s[1].Deny, []string{"unknown"}) ||
		!slices.Equal(s[2].Deny, []string{"oui"}) || !slices.Equal(s[2].Allow, []string{"known"}) || s[3].Allow != nil || s[4].Allow != nil {
		t.Errorf("sections %+v", s)
	}
	if len(p.Reservations) != 2 {
		t.Fatalf("reservations %+v", p.Reservations)
	}
	a := p.Reservations[0]
	if a.Hostname != "alpha" || len(a.Options) != 2 || a.Options[0].Name != "domain-name-servers" || string(a.Options[0].Value) != "10.0.0.2, 10.0.0.3" ||
		a.Options[1].Name != "ip-forwarding" || a.Boot.NextServer.String() != "10.0.0.5" || a.Boot.ServerName != "boot1" || a.Boot.File != "pxelinux.0" {
		t.Errorf("host a %+v", a)
	}
	if b := p.Reservations[1]; string(b.CircuitID) != "ge-0/0/7" || b.Address.String() != "10.0.0.101" {
		t.Errorf("host b %+v", b)
	}
	for _, want := range []string{
		`d.conf:12: class fancy: match if option vendor-class-identifier = "a" or option user-class = "b"`,
		`d.conf:13: class sub: match pick-first-value`,
		`d.conf:18: allow members of "fancy": class "fancy" was not carried over`,
		`d.conf:19: allow dynamic bootp clients: pool access rules other than`,
		`d.conf:27: host a: option routers gw.example.org`,
		`d.conf:36: range dynamic-bootp: leased serves BOOTP clients per pool (bootp), and 10.1.0.0/24 also has ranges without dynamic-bootp`,
	} {
		if !has(items, want) {
			t.Errorf("report lacks %q:\n%s", want, strings.Join(items, "\n"))
		}
	}
}
