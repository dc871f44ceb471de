package migrate

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leased/leased/config"
)

func TestStripComments(t *testing.T) {
	in := "{ // a\n \"u\": \"http://x/#y\", # b\n /* c\n d */ \"v\": \"/* no */\" }"
	got := string(StripComments([]byte(in)))
	want := "{     \n \"u\": \"http://x/#y\",    \n     \n      \"v\": \"/* no */\" }"
	if got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

func convert(t *testing.T, f string, conv func(string, []byte) (*Result, error)) (*config.Config, []string) {
	t.Helper()
	src, err := os.ReadFile("testdata/" + f)
	if err != nil {
		t.Fatal(err)
	}
	r, err := conv(f, src)
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse(f+".yaml", r.YAML)
	if err != nil {
		t.Fatalf("%v\n%s", err, r.YAML)
	}
	var items []string
	for _, it := range r.Skipped {
		items = append(items, it.String())
	}
	return c, items
}

func has(items []string, s string) bool {
	for _, it := range items {
		if strings.Contains(it, s) {
			return true
		}
	}
	return false
}

// What the Debian kea-dhcp6.conf holds, as leased sees it.
func TestKeaDhcp6Conf(t *testing.T) {
	c, items := convert(t, "kea-dhcp6.conf", FromKea)
	l := c.Lease6()
	if len(l.Pools) != 1 {
		t.Fatalf("pools %+v", l.Pools)
	}
	p := l.Pools[0]
	if p.Subnet.String() != "2001:db8:1::/64" || len(p.Ranges) != 1 || p.Ranges[0].End.String() != "2001:db8:1::ffff:ffff:ffff" {
		t.Fatalf("pool %+v", p)
	}
	if p.PD == nil || p.PD.Prefix.String() != "2001:db8:8::/56" || p.PD.Length != 64 {
		t.Fatalf("pd %+v", p.PD)
	}
	if len(p.DNS) != 2 || p.DNS[0].String() != "2001:db8:2::dead:beef" {
		t.Fatalf("pool DNS %v (the subnet's, not the global)", p.DNS)
	}
	if len(p.Reservations) != 2 || p.Reservations[0].Addr.String() != "2001:db8:1::100" || p.Reservations[1].Hostname != "foo.example.com" {
		t.Fatalf("reservations %+v", p.Reservations)
	}
	for _, want := range []string{
		"kea-dhcp6.conf:", "hw-address", // the hw-address reservation
		"2001:db8:2:abcd::/64 is not a /64 inside", // prefix outside the pd-pool
		"flex-id", `option "new-posix-timezone"`, "option preference", "loggers",
	} {
		if !has(items, want) {
			t.Errorf("report lacks %q:\n%s", want, strings.Join(items, "\n"))
		}
	}
	if v := c.DHCPv6.PreferredLifetime.D().Seconds(); v != 3000 {
		t.Errorf("preferred lifetime %v", v)
	}
}

func TestKeaDhcp4Conf(t *testing.T) {
	c, items := convert(t, "kea-dhcp4.conf", FromKea)
	p := c.DHCPv4.Pools[0]
	if p.Gateway.String() != "192.0.2.1" || len(p.DNS) != 2 || p.DomainName != "example.org" || len(p.Reservations) != 4 {
		t.Fatalf("pool %+v", p)
	}
	if !has(items, "reservation of 192.0.2.203: identified neither") || has(items, "vendor-4491") || has(items, "vivso") {
		t.Errorf("report:\n%s", strings.Join(items, "\n"))
	}
	// vivso-suboptions 4491 with tftp-servers (sub-option 2) in space vendor-4491.
	if r := p.Reservations[2]; r.Address.String() != "192.0.2.204" || len(r.Options) != 1 || r.Options[0].Enterprise != 4491 ||
		len(r.Options[0].Suboptions) != 1 || r.Options[0].Suboptions[0].Code != 2 || len(r.Options[0].Suboptions[0].IPs) != 2 {
		t.Errorf("reservation 192.0.2.204 %+v", r)
	}
	// The voip class: substring(option[60].hex,0,6) == 'Aastra' and its
	// boot fields; the reservation's boot fields.
	if len(c.DHCPv4.ClientClasses) != 1 {
		t.Fatalf("classes %+v", c.DHCPv4.ClientClasses)
	}
	k := c.DHCPv4.ClientClasses[0]
	if k.Name != "voip" || k.Match.VendorClass == nil || string(*k.Match.VendorClass.Prefix) != "Aastra" ||
		k.Boot.NextServer.String() != "192.0.2.254" || k.Boot.ServerName != "hal9000" || k.Boot.File != "/dev/null" {
		t.Errorf("class voip %+v", k)
	}
	if r := p.Reservations[3]; r.Address.String() != "192.0.2.205" || r.Boot.NextServer.String() != "192.0.2.1" || r.Boot.ServerName != "hal9000" {
		t.Errorf("reservation boot fields %+v", r)
	}
	if has(items, `client class "voip"`) || has(items, "default-ip-ttl") {
		t.Errorf("converted items reported:\n%s", strings.Join(items, "\n"))
	}
}

func TestDhcpdExamplesConf(t *testing.T) {
	c, items := convert(t, "dhcpd-examples.conf", FromDhcpd)
	if len(c.DHCPv4.Pools) != 6 || !c.DHCPv4.Authoritative {
		t.Fatalf("pools %+v", c.DHCPv4.Pools)
	}
	var found bool
	for _, p := range c.DHCPv4.Pools {
		if p.Subnet.String() == "10.5.5.0/27" {
			found = p.Gateway.String() == "10.5.5.1" && p.DomainName == "internal.example.org" && len(p.Sections) == 1
		}
		// range dynamic-bootp 10.254.239.40 10.254.239.60: the subnet's only range
		if p.Subnet.String() == "10.254.239.32/27" && !p.BOOTP {
			t.Errorf("10.254.239.32/27 (range dynamic-bootp only): bootp not set")
		}
	}
	if !found {
		t.Errorf("10.5.5.0/27 not converted: %+v", c.DHCPv4.Pools)
	}
	shared := 0
	for _, p := range c.DHCPv4.Pools {
		if p.SharedNetwork == "224-29" {
			shared++
		}
	}
	if shared != 2 {
		t.Errorf("shared-network 224-29: %d pools carry it, want 2", shared)
	}
	for _, want := range []string{"dhcpd-examples.conf:10: option domain-name-servers", "is a host name", "max-lease-time"} {
		if !has(items, want) {
			t.Errorf("report lacks %q:\n%s", want, strings.Join(items, "\n"))
		}
	}
	// class "foo" { match if substring (option vendor-class-identifier, 0, 4) = "SUNW"; }
	// and the shared network's pools: allow / deny members of "foo".
	if k := c.DHCPv4.ClientClasses; len(k) != 1 || k[0].Name != "foo" || k[0].Match.VendorClass == nil || string(*k[0].Match.VendorClass.Prefix) != "SUNW" {
		t.Errorf("class foo: %+v", k)
	}
	for _, p := range c.DHCPv4.Pools {
		switch p.Subnet.String() {
		case "10.17.224.0/24":
			if len(p.Sections) != 1 || !slices.Equal(p.Sections[0].Allow, []string{"foo"}) {
				t.Errorf("10.17.224.0/24 sections %+v", p.Sections)
			}
		case "10.0.29.0/24":
			if len(p.Sections) != 1 || !slices.Equal(p.Sections[0].Deny, []string{"foo"}) {
				t.Errorf("10.0.29.0/24 sections %+v", p.Sections)
			}
		}
	}
	if has(items, "class foo") || has(items, "members of") {
		t.Errorf("converted items reported:\n%s", strings.Join(items, "\n"))
	}
}

func TestDhcpd6ExamplesConf(t *testing.T) {
	c, items := convert(t, "dhcpd6-examples.conf", FromDhcpd)
	l := c.Lease6()
	if len(l.Pools) != 3 || len(l.DNS) != 1 || len(l.DomainSearch) != 2 {
		t.Fatalf("config %+v", l)
	}
	if r := l.Pools[0].Reservations; len(r) != 1 || r[0].Addr.String() != "3ffe:501:ffff:100::1234" ||
		len(r[0].DNS) != 1 || r[0].DNS[0].String() != "3ffe:501:ffff:100:200:ff:fe00:4f4e" {
		t.Fatalf("host myclient: %+v", r)
	}
	if !has(items, "temporary addresses") || !has(items, "hardware ethernet matches DUIDs") {
		t.Errorf("report:\n%s", strings.Join(items, "\n"))
	}
}

func TestKea4SharedNetwork(t *testing.T) {
	c, items := convert(t, "kea4-shared-network.json", FromKea)
	// next-server 0.0.0.0 and empty server-hostname / boot-file-name are
	// Kea's "unset"; valid-lifetime 30 is a short DHCPv4 lease leased takes.
	if has(items, "next-server") || has(items, "boot-file-name") || has(items, "valid-lifetime") {
		t.Errorf("report:\n%s", strings.Join(items, "\n"))
	}
	for _, p := range c.DHCPv4.Pools {
		if p.Boot.NextServer.IsValid() || p.Boot.File != "" {
			t.Errorf("pool %s boot %+v from Kea's unset values", p.Name, p.Boot)
		}
		if p.SharedNetwork != "" && p.LeaseTime.D() != 30*time.Second {
			t.Errorf("pool %s lease time %v, want Kea's 30s", p.Name, p.LeaseTime.D())
		}
	}
	n := 0
	for _, p := range c.DHCPv4.Pools {
		if p.SharedNetwork != "" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d pools in a shared network, want the 2 subnets of Kea's shared-network", n)
	}
}
