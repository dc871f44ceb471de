#!/bin/bash
# Regenerates the real lease files in this directory (run as root; not part
# of the tests): Kea 2.2 (kea-dhcp4/kea-dhcp6 from the Debian packages,
# extracted with dpkg-deb -x into $X) answering perfdhcp, and ISC dhcpd
# 4.4.3 answering dhclient, each pair in two network namespaces joined by a
# veth pair that this script creates and removes. Nothing touches a real
# interface.
#   X=/tmp/deb/x ./gen-leases.sh OUTDIR
set -euo pipefail
X=${X:?set X to the dpkg-deb -x directory of kea-dhcp4-server, kea-dhcp6-server, isc-dhcp-server}
OUT=$(realpath "${1:?output dir}")
W=$(mktemp -d)
S=lmig-s$$ C=lmig-c$$
cleanup() {
	for p in $(cat "$W"/*.pid 2>/dev/null); do kill "$p" 2>/dev/null || true; done
	ip netns del $S 2>/dev/null || true
	ip netns del $C 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
ip netns add $S
ip netns add $C
ip -n $S link add vs type veth peer name vc netns $C
for n in $S $C; do
	ip netns exec $n sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip -n $n link set lo up
done
ip -n $S addr add 10.99.0.1/24 dev vs
ip -n $C addr add 10.99.0.2/24 dev vc
ip -n $S addr add fd99::1/64 dev vs nodad
ip -n $S link set vs up
ip -n $C link set vc up
sleep 1

# --- ISC dhcpd -6 + dhclient -6 (IA_NA and IA_PD; DUID-LL from each MAC;
# the third client releases). ONLY=dhcpd6 stops after this part (X then
# needs only isc-dhcp-server).
cat >"$W/dhcpd6.conf" <<CONF
default-lease-time 86400;
preferred-lifetime 3000;
max-lease-time 86400;
authoritative;
subnet6 fd99::/64 { range6 fd99::50 fd99::5f; prefix6 fd98:: fd98:0:0:ff00:: /56; }
CONF
touch "$W/dhcpd6.leases"
ip netns exec $S "$X/usr/sbin/dhcpd" -6 -f -cf "$W/dhcpd6.conf" -lf "$W/dhcpd6.leases" -pf "$W/dhcpd6.pid.file" vs >"$W/dhcpd6.log" 2>&1 &
echo $! >"$W/dhcpd6.pid"
sleep 1
printf '#!/bin/sh\nexit 0\n' >"$W/hook"; chmod +x "$W/hook"
for i in 1 2 3; do
	ip -n $C link set vc address 52:54:00:99:06:0$i
	ip -n $S neigh flush dev vs # replies must go to the new MAC
	sleep 1
	: >"$W/dhclient6-$i.conf"
	ip netns exec $C timeout 15 dhclient -6 -N -P -D LL -1 -d -sf "$W/hook" -cf "$W/dhclient6-$i.conf" -lf "$W/dhclient6-$i.leases" \
		-pf "$W/dhclient6-$i.pid" vc >"$W/dhclient6-$i.log" 2>&1 || true
	if [ "$i" = 3 ]; then
		ip netns exec $C timeout 10 dhclient -6 -N -P -D LL -r -sf "$W/hook" -cf "$W/dhclient6-$i.conf" -lf "$W/dhclient6-$i.leases" \
			-pf "$W/dhclient6-$i.pid" vc >>"$W/dhclient6-$i.log" 2>&1 || true
	fi
done
kill "$(cat "$W/dhcpd6.pid")" || cat "$W/dhcpd6.log"; sleep 1
cp "$W/dhcpd6.leases" "$OUT/dhcpd6.leases"
if [ "${ONLY:-}" = dhcpd6 ]; then
	wc -l "$OUT/dhcpd6.leases"
	exit 0
fi

# --- Kea DHCPv4 + perfdhcp (perfdhcp -4 acts as a relay: giaddr 10.99.0.2)
cat >"$W/kea4.json" <<JSON
{ "Dhcp4": {
  "interfaces-config": { "interfaces": [ "vs" ], "dhcp-socket-type": "udp" },
  "lease-database": { "type": "memfile", "name": "$W/kea-leases4.csv", "lfc-interval": 0 },
  "valid-lifetime": 86400,
  "subnet4": [ { "id": 1, "subnet": "10.99.0.0/24", "pools": [ { "pool": "10.99.0.100 - 10.99.0.199" } ] } ] } }
JSON
KEA_PIDFILE_DIR=$W KEA_LOCKFILE_DIR=$W ip netns exec $S "$X/usr/sbin/kea-dhcp4" -c "$W/kea4.json" >"$W/kea4.log" 2>&1 &
echo $! >"$W/kea4.pid"
sleep 2
ip netns exec $C timeout 30 perfdhcp -4 -l 10.99.0.2 -R 25 -r 20 -n 25 -W 2000000 10.99.0.1 >"$W/perf4.log" 2>&1 || true
kill "$(cat "$W/kea4.pid")"; sleep 1
cp "$W/kea-leases4.csv" "$OUT/kea-leases4.csv"

# --- Kea DHCPv6 + perfdhcp -6 (IA_NA and IA_PD, on the link)
cat >"$W/kea6.json" <<JSON
{ "Dhcp6": {
  "interfaces-config": { "interfaces": [ "vs" ] },
  "lease-database": { "type": "memfile", "name": "$W/kea-leases6.csv", "lfc-interval": 0 },
  "server-id": { "type": "LLT", "persist": false },
  "preferred-lifetime": 3000, "valid-lifetime": 86400,
  "subnet6": [ { "id": 1, "subnet": "fd99::/64", "interface": "vs",
    "pools": [ { "pool": "fd99::100 - fd99::1ff" } ],
    "pd-pools": [ { "prefix": "fd98::", "prefix-len": 48, "delegated-len": 56 } ] } ] } }
JSON
KEA_PIDFILE_DIR=$W KEA_LOCKFILE_DIR=$W ip netns exec $S "$X/usr/sbin/kea-dhcp6" -c "$W/kea6.json" >"$W/kea6.log" 2>&1 &
echo $! >"$W/kea6.pid"
sleep 2
ip netns exec $C timeout 30 perfdhcp -6 -l vc -e address-and-prefix -R 25 -r 20 -n 25 -W 2000000 >"$W/perf6.log" 2>&1 || true
kill "$(cat "$W/kea6.pid")" || { cat "$W/kea6.log"; tail -5 "$W/perf6.log"; }; sleep 1
cp "$W/kea-leases6.csv" "$OUT/kea-leases6.csv"

# --- ISC dhcpd + dhclient (two clients with their own MACs)
cat >"$W/dhcpd.conf" <<CONF
default-lease-time 86400;
max-lease-time 86400;
authoritative;
subnet 10.99.0.0 netmask 255.255.255.0 { range 10.99.0.50 10.99.0.59; option routers 10.99.0.1; }
CONF
touch "$W/dhcpd.leases"
ip netns exec $S "$X/usr/sbin/dhcpd" -4 -f -cf "$W/dhcpd.conf" -lf "$W/dhcpd.leases" -pf "$W/dhcpd.pid.file" vs >"$W/dhcpd.log" 2>&1 &
echo $! >"$W/dhcpd.pid"
sleep 1
printf '#!/bin/sh\nexit 0\n' >"$W/hook"; chmod +x "$W/hook"
for i in 1 2 3; do
	ip -n $C link set vc address 52:54:00:99:00:0$i
	printf 'send host-name "client-%s";\n' $i >"$W/dhclient$i.conf"
	ip netns exec $C timeout 20 dhclient -4 -1 -d -sf "$W/hook" -cf "$W/dhclient$i.conf" -lf "$W/dhclient$i.leases" \
		-pf "$W/dhclient$i.pid" vc >"$W/dhclient$i.log" 2>&1 || true
	# the hook configures nothing: no address is kept, the lease is the server's record
done
kill "$(cat "$W/dhcpd.pid")" || cat "$W/dhcpd.log"; sleep 1
cp "$W/dhcpd.leases" "$OUT/dhcpd.leases"
wc -l "$OUT"/kea-leases4.csv "$OUT"/kea-leases6.csv "$OUT"/dhcpd.leases
