package config

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/leased/leased/lease"
)

const classesYAML = `dhcpv4:
  interfaces: [eth0]
  lease_time: 10s
  options:
    - {name: domain-name-servers, value: "10.0.0.53, 10.0.0.54"}
    - {name: time-offset, value: -3600}
    - {name: ntp-servers, value: 10.0.0.123}
  client_classes:
    - name: pxe-bios
      match: {vendor_class: {prefix: PXEClient}, client_arch: [0]}
      boot: {next_server: 10.0.0.5, file: undionly.kpxe}
    - name: ipxe
      match: {user_class: {exact: iPXE}}
      options: [{name: boot-file-name, value: "http://boot/script.ipxe"}]
      lease_time: 5m
    - name: voip
      match: {vendor_class: {regex: "^(Polycom|Yealink)"}, hwaddr: "00:04:f2:00:00:00/24"}
      options:
        - {name: vendor-encapsulated-options, suboptions: [{code: 1, text: abc}, {code: 2, ip: 10.0.0.9}]}
        - {name: vivso-suboptions, enterprise: 4491, suboptions: [{code: 1, hex: "0a0b"}]}
        - {name: vivco-suboptions, enterprise: 4491, suboptions: [{text: docsis}]}
    - name: port7
      match: {circuit_id: {exact: "0x0107"}, relays: [192.0.2.0/24], known: false}
    - name: tagged
  pools:
    - name: a
      subnet: 10.0.0.0/24
      routers: [10.0.0.1, 10.0.0.2]
      options: [{name: interface-mtu, value: 1400}, {name: ntp-servers, value: 10.0.0.124}]
      deny: [unknown]
      allow: [voip, known]
      bootp: true
      bootp_lease_time: 1h
      shared_network: lan
      boot: {next_server: 10.0.0.4, server_name: tftp, file: pxelinux.0}
      sections:
        - {index: 0, start: 10.0.0.100, end: 10.0.0.199, allow: [voip]}
        - {index: 1, start: 10.0.0.200, end: 10.0.0.250, deny: [voip, unknown]}
      reservations:
        - address: 10.0.0.20
          circuit_id: "eth0/1:7"
          options: [{name: host-name, value: port7}]
          boot: {file: special.efi}
          client_classes: [tagged]
        - {address: 10.0.0.21, remote_id: "0xaabb"}
    - name: b
      subnet: 10.0.1.0/24
      gateway: 10.0.1.1
      shared_network: lan
`

func TestClassesConfig(t *testing.T) {
	c, err := Parse("c.yaml", []byte(classesYAML))
	if err != nil {
		t.Fatal(err)
	}
	if c.DHCPv4.OfferHold.D() != 5*time.Second {
		t.Errorf("offer_hold default with a 10s lease = %s, want 5s", c.DHCPv4.OfferHold)
	}
	found := false
	for _, w := range c.Warnings() {
		if strings.Contains(w, "dhcpv4.lease_time is 10s") {
			found = true
		}
	}
	if !found {
		t.Errorf("no short lease warning in %q", c.Warnings())
	}
	lc := c.Lease()
	if len(lc.Classes) != 5 {
		t.Fatalf("%d classes", len(lc.Classes))
	}
	p := lc.Pools[0]
	if p.Gateway != netip.MustParseAddr("10.0.0.1") || len(p.Routers) != 2 {
		t.Errorf("routers %v gateway %v", p.Routers, p.Gateway)
	}
	want := []lease.RawOption{
		{Code: 26, Data: []byte{0x05, 0x78}},
		{Code: 42, Data: []byte{10, 0, 0, 124}}, // the pool's beats the global
		{Code: 6, Data: []byte{10, 0, 0, 53, 10, 0, 0, 54}},
		{Code: 2, Data: []byte{0xff, 0xff, 0xf1, 0xf0}}, // -3600
	}
	if d := cmp.Diff(want, p.RawOptions); d != "" {
		t.Errorf("pool options (-want +got):\n%s", d)
	}
	voip := lc.Classes[2]
	hx := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	wantVoip := []lease.RawOption{
		{Code: 43, Data: hx("0103616263" + "02040a000009")},
		{Code: 125, Data: hx("0000118b" + "04" + "01020a0b")},
		{Code: 124, Data: hx("0000118b" + "07" + "06646f63736973")},
	}
	if d := cmp.Diff(wantVoip, voip.Options); d != "" {
		t.Errorf("voip options (-want +got):\n%s", d)
	}
	if voip.Match.VendorClass.Op != lease.OpRegex || voip.Match.VendorClass.Re == nil || voip.Match.HWBits != 24 {
		t.Errorf("voip match %+v", voip.Match)
	}
	if m := lc.Classes[3].Match; !bytes.Equal(m.CircuitID.Value, []byte{1, 7}) || m.Known != -1 || len(m.Relays) != 1 {
		t.Errorf("port7 match %+v", m)
	}
	if !lc.Classes[4].Match.Never {
		t.Error("a class without match must match nobody by itself")
	}
	if lc.Classes[1].LeaseTime != 5*time.Minute || string(lc.Classes[1].Options[0].Data) != "http://boot/script.ipxe" {
		t.Errorf("ipxe class %+v", lc.Classes[1])
	}
	r := p.Reservations[0]
	if string(r.CircuitID) != "eth0/1:7" || string(r.Boot.File) != "special.efi" || r.Classes[0] != "tagged" || r.Options[0].Code != 12 {
		t.Errorf("reservation %+v", r)
	}
	if !bytes.Equal(p.Reservations[1].RemoteID, []byte{0xaa, 0xbb}) {
		t.Errorf("remote_id %x", p.Reservations[1].RemoteID)
	}
	if !p.BOOTP || p.BOOTPLeaseTime != time.Hour || p.SharedNetwork != "lan" || string(p.Boot.ServerName) != "tftp" || p.Boot.NextServer != netip.MustParseAddr("10.0.0.4") {
		t.Errorf("pool %+v", p)
	}
	if s := p.Sections; len(s) != 2 || s[0].Allow[0] != "voip" || len(s[1].Deny) != 2 {
		t.Errorf("sections %+v", s)
	}
	if _, err := lease.New(lc); err != nil {
		t.Errorf("engine refuses the configuration: %v", err)
	}
}

func TestClassesConfigErrors(t *testing.T) {
	in := lines(
		"dhcpv4:",
		"  interfaces: [eth0]",
		"  options:",
		"    - {name: domain-name-server, value: 10.0.0.1}",
		"    - {name: routers, value: 10.0.0.300}",
		"    - {name: interface-mtu, value: 40}",
		"    - {name: time-offset, value: abc}",
		"    - {name: ip-forwarding, value: maybe}",
		"    - {name: vivso-suboptions, suboptions: [{code: 1, hex: 01}]}",
		"    - {name: ntp-servers, code: 43, value: 10.0.0.1}",
		"  client_classes:",
		"    - name: known",
		"    - name: a",
		"      match: {vendor_class: {exact: x, prefix: y}, user_class: {regex: \"(\"}, client_arch: [70000], hwaddr: \"52:54/99\"}",
		"      lease_time: 1s",
		"    - name: a",
		"  pools:",
		"    - name: p",
		"      subnet: 10.0.0.0/24",
		"      gateway: 10.0.0.1",
		"      routers: [10.0.0.2]",
		"      allow: [nosuch]",
		"      sections: [{index: 0, start: 10.0.0.10, end: 10.0.0.20, deny: [nope]}]",
		"      options: [{name: domain-name-servers, value: 10.0.0.1}]",
		"      dns: [10.0.0.53]",
		"      boot: {file: \""+strings.Repeat("f", 128)+"\"}",
		"      bootp_lease_time: 1h",
		"      reservations:",
		"        - {address: 10.0.0.9, circuit_id: c1, client_classes: [known]}",
		"        - {address: 10.0.0.10, circuit_id: c1}",
	)
	_, err := Parse("t.yaml", []byte(in))
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		`t.yaml:4: dhcpv4.options[0].name: "domain-name-server" is not a DHCPv4 option name (did you mean "domain-name-servers"?); use a registry name such as domain-name-servers, or code with hex`,
		`t.yaml:5: dhcpv4.options[1].value: "10.0.0.300" is not an IPv4 address`,
		`t.yaml:6: dhcpv4.options[2].value: 40 is not a valid MTU; use 68 to 65535 (RFC 2132 §5.1)`,
		`t.yaml:7: dhcpv4.options[3].value: "abc" is not a whole number from -2147483648 to 2147483647`,
		`t.yaml:8: dhcpv4.options[4].value: "maybe" is not true or false`,
		`t.yaml:9: dhcpv4.options[5].enterprise: required with suboptions of option 125: the IANA enterprise number (RFC 3925), e.g. 4491`,
		`t.yaml:10: dhcpv4.options[6].code: 43 is not the code of ntp-servers (42); leave code out`,
		`t.yaml:12: dhcpv4.client_classes[0].name: "known" is built in (clients with or without a reservation); choose another name`,
		`t.yaml:14: dhcpv4.client_classes[1].match.vendor_class: give exactly one of exact, prefix, substring or regex`,
		"t.yaml:14: dhcpv4.client_classes[1].match.user_class.regex: \"(\" is not a regular expression: error parsing regexp: missing closing ): `(`",
		`t.yaml:14: dhcpv4.client_classes[1].match.client_arch[0]: 70000 is not an architecture type (0 to 65535, RFC 4578 §2.1: 0 BIOS, 7 x64 UEFI, ...)`,
		`t.yaml:14: dhcpv4.client_classes[1].match.hwaddr: "52:54/99": the prefix length must be 1 to 16 bits`,
		`t.yaml:15: dhcpv4.client_classes[1].lease_time: 1s is too short; use at least 2s, e.g. 1h`,
		`t.yaml:16: dhcpv4.client_classes[2].name: "a" is already the name of dhcpv4.client_classes[1]`,
		`t.yaml:21: dhcpv4.pools[0].routers: gateway (line 20) and routers are both set; use routers for several routers, gateway for one`,
		`t.yaml:22: dhcpv4.pools[0].allow[0]: "nosuch" is not a client class; define it in dhcpv4.client_classes (or use known / unknown)`,
		`t.yaml:23: dhcpv4.pools[0].sections[0].deny[0]: "nope" is not a client class; define it in dhcpv4.client_classes (or use known / unknown)`,
		`t.yaml:24: dhcpv4.pools[0].options[0]: option 6 is already set by dns in this pool; set it once`,
		`t.yaml:26: dhcpv4.pools[0].boot.file: is 128 bytes long; the file field holds at most 127 and a NUL`,
		`t.yaml:27: dhcpv4.pools[0].bootp_lease_time: has no effect without bootp: true`,
		`t.yaml:29: dhcpv4.pools[0].reservations[0].client_classes[0]: "known" is built in and set by leased`,
		`t.yaml:30: dhcpv4.pools[0].reservations[1].circuit_id: already the circuit_id of dhcpv4.pools[0].reservations[0]`,
	}
	var got []string
	for _, e := range unwrapAll(err) {
		got = append(got, e.Error())
	}
	for _, w := range want {
		if !contains(got, w) {
			t.Errorf("missing error\n  %s\ngot:\n  %s", w, strings.Join(got, "\n  "))
		}
	}
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
