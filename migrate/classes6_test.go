package migrate

import (
	"slices"
	"strings"
	"testing"

	"github.com/leased/leased/config"
)

// Kea's kea6-iPXE.json example: class a-ipxe (user class prefix iPXE,
// bootfile-url) converts, b-efi (option 61, client architecture) does not.
func TestKea6IPXE(t *testing.T) {
	c, items := convert(t, "kea6-iPXE.json", FromKea)
	k := c.DHCPv6.ClientClasses
	if len(k) != 1 || k[0].Name != "a-ipxe" || k[0].Match.UserClass == nil || string(*k[0].Match.UserClass.Prefix) != "iPXE" ||
		len(k[0].Options) != 1 || k[0].Options[0].Code != 59 || k[0].Options[0].Text == nil || *k[0].Options[0].Text != "http://[2001:db8::1]/ubuntu.cfg" {
		t.Fatalf("classes %+v", k)
	}
	if len(items) != 1 || !has(items, `kea6-iPXE.json:50: client class "b-efi": test "option[61].hex == 0x0007"`) {
		t.Fatalf("report:\n%s", strings.Join(items, "\n"))
	}
}

func TestKeaClasses6(t *testing.T) {
	src := `{ "Dhcp6": {
  "interfaces-config": { "interfaces": [ "eth1" ] },
  "client-classes": [
    { "name": "oui", "test": "substring(option[1].hex,0,6) == 0x000300015254", "option-data": [ { "name": "dns-servers", "data": "fd00::53" } ] },
    { "name": "port", "test": "relay6[0].option[18].hex == 'ge-0/0/1' and relay6[0].option[38].hex == 'cust-9'" },
    { "name": "olt", "test": "substring(relay6[0].option[37].hex,4,5) == 'olt1:'" },
    { "name": "hp", "test": "substring(option[16].hex,6,2) == 'hp'" },
    { "name": "known6", "test": "member('KNOWN')" }
  ],
  "subnet6": [
    { "id": 1, "subnet": "fd77::/64", "client-class": "port", "pools": [ { "pool": "fd77::100 - fd77::1ff" } ] },
    { "id": 2, "subnet": "fd78::/64", "client-class": "known6", "pools": [ { "pool": "fd78::100 - fd78::1ff" } ] }
  ] } }`
	r, err := FromKea("k6.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("k6.yaml", r.YAML)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.YAML)
	}
	var items []string
	for _, it := range r.Skipped {
		items = append(items, it.String())
	}
	by := map[string]config.ClassMatch6{}
	for _, k := range c.DHCPv6.ClientClasses {
		by[k.Name] = k.Match
	}
	bv := func(b *config.BytesValue) string {
		if b == nil {
			return ""
		}
		return string(*b)
	}
	if len(by) != 4 || by["oui"].DUID == nil || bv(by["oui"].DUID.Prefix) != "\x00\x03\x00\x01\x52\x54" ||
		bv(by["port"].InterfaceID.Exact) != "ge-0/0/1" || bv(by["port"].SubscriberID.Exact) != "cust-9" ||
		bv(by["olt"].RemoteID.Prefix) != "olt1:" || bv(by["hp"].VendorClass.Prefix) != "hp" {
		t.Fatalf("classes %+v\n%s", c.DHCPv6.ClientClasses, r.YAML)
	}
	if p := c.DHCPv6.Pools; !slices.Equal(p[0].Allow, []string{"port"}) || p[1].Allow != nil {
		t.Errorf("allow %v %v", p[0].Allow, p[1].Allow)
	}
	for _, want := range []string{`k6.json:8: client class "known6": test "member('KNOWN')"`, `k6.json:12: subnet6 fd78::/64 client-class: client class "known6" was not carried over`} {
		if !has(items, want) {
			t.Errorf("report lacks %q:\n%s", want, strings.Join(items, "\n"))
		}
	}
}
