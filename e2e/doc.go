// Package e2e holds end-to-end tests of leased with real DHCP clients
// (dhcpcd, ISC dhclient, busybox udhcpc, Kea's perfdhcp) and a crash test,
// each run in network namespaces the test creates and removes
// (internal/netns). They need root; outside CI they skip with the reason
// when not root, under CI (CI set) they fail instead. Run them with
//
//	go test -race -count=1 ./e2e/
//
// TestMain builds cmd/leased and cmd/leasectl once per run.
package e2e
