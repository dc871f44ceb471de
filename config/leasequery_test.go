package config

import (
	"strings"
	"testing"
)

func TestLeaseQueryConfig(t *testing.T) {
	c, err := Parse("t.yaml", []byte(radiusBase+"leasequery:\n  requestors: [10.99.0.0/16, 192.0.2.1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := c.LeaseQuery
	if l.BulkListen != ":67" || l.BulkListen6 != "off" || l.MaxConnections != 10 {
		t.Errorf("defaults %+v", l)
	}
	if p := l.Prefixes(); len(p) != 2 || p[0].String() != "10.99.0.0/16" || p[1].String() != "192.0.2.1/32" {
		t.Errorf("prefixes %v", p)
	}
	_, err = Parse("t.yaml", []byte(radiusBase+"leasequery:\n  requestors: [10.99.0.0/33]\n  bulk_listen: x\n  max_connections: 0\n"))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"t.yaml:10: leasequery.requestors[0]", "t.yaml:11: leasequery.bulk_listen", "t.yaml:12: leasequery.max_connections"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in\n%v", want, err)
		}
	}
	if _, err := Parse("t.yaml", []byte(radiusBase+"leasequery:\n  bulk_listen: \"off\"\n")); err == nil || !strings.Contains(err.Error(), "leasequery.requestors: required") {
		t.Errorf("no requestors: %v", err)
	}
}
