#!/usr/bin/env bash
# leased demo: a server and real DHCP clients (dhcpcd, ISC dhclient, busybox
# udhcpc; dhcpcd -6 for DHCPv6) in network namespaces this script creates
# and removes. Nothing leaves those namespaces. Run as root: `make demo`.
set -euo pipefail

cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: run as root (network namespaces)" >&2; exit 1; }
# LEASED_BIN: where leased and leasectl are (the e2e test that runs this
# script points it at its own build); default bin/ of `make build`.
bin=${LEASED_BIN:-bin}
for b in "$bin/leased" "$bin/leasectl"; do
	[ -x "$b" ] || { echo "demo: $b missing; run 'make build' (make demo does)" >&2; exit 1; }
done

tag="ld$$"
srv="$tag-srv"
work=$(mktemp -d /tmp/leased-demo.XXXXXX)
pids=()
namespaces=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local secs=$1 what=$2; shift 2
	for _ in $(seq 1 $((secs * 5))); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	echo "demo: timed out after ${secs}s waiting for $what" >&2
	echo "--- leased log (tail)"; tail -n 30 "$work/leased.log" >&2
	return 1
}

# ipv6_now NS: IPv6 link-local addresses usable at once in NS (no duplicate
# address detection), router advertisements ignored.
ipv6_now() {
	local k
	for k in all default; do
		ip netns exec "$1" sysctl -q -w net.ipv6.conf.$k.accept_dad=0 \
			net.ipv6.conf.$k.dad_transmits=0 net.ipv6.conf.$k.accept_ra=0
	done
}

step "network: namespace $srv with bridge vsrv 10.77.0.1/16 and fd77::1/64, one namespace per client"
ip netns add "$srv"; namespaces+=("$srv")
ip -n "$srv" link set lo up
ipv6_now "$srv"
# No multicast snooping: DHCPv6 Solicits to ff02::1:2 reach leased on the
# bridge without an MLD querier.
ip -n "$srv" link add vsrv type bridge mcast_snooping 0
ip -n "$srv" addr add 10.77.0.1/16 dev vsrv
ip -n "$srv" -6 addr add fd77::1/64 dev vsrv nodad
ip -n "$srv" link set vsrv up

clients=(dhcpcd dhclient udhcpc dhcpcd6)
for i in "${!clients[@]}"; do
	ns="$tag-c$i"
	ip netns add "$ns"; namespaces+=("$ns")
	ip -n "$ns" link set lo up
	ipv6_now "$ns"
	ip -n "$ns" link add vcli type veth peer name "p$i" netns "$srv"
	ip -n "$ns" link set vcli address "02:00:00:00:77:0$i"
	ip -n "$srv" link set "p$i" master vsrv up
	ip -n "$ns" link set vcli up
done

step "leased: examples/leased.yaml with data_dir and control socket moved to $work"
grep -q '^dhcpv6:' examples/leased.yaml || { echo "demo: examples/leased.yaml has no dhcpv6 section" >&2; exit 1; }
sed -e "s#^data_dir:.*#data_dir: $work/data#" \
	-e "s#socket: /run/leased/control.sock#socket: $work/control.sock#" \
	examples/leased.yaml >"$work/leased.yaml"
# --check inside the namespace: it also verifies that the interfaces exist.
ip netns exec "$srv" "$bin/leased" --config "$work/leased.yaml" --check
ip netns exec "$srv" "$bin/leased" --config "$work/leased.yaml" >"$work/leased.log" 2>&1 &
pids+=($!)
ctl() { "$bin/leasectl" --socket "$work/control.sock" "$@"; }
wait_for 10 "leased's control socket" ctl health

step "clients: dhcpcd, ISC dhclient and busybox udhcpc ask for leases"
hook="$work/hook.sh"
cat >"$hook" <<'HOOK'
#!/bin/sh
# Client hook: logs what the client was told and, for dhclient and udhcpc
# (dhcpcd configures addresses itself), puts the address on the client's
# own interface so renewals and releases can be sent from it. It runs
# inside the client's namespace, so the host is never touched.
ev=${reason:-$1}
addr=${new_ip_address:-${ip:-}}
echo "$(date +%T) $ev ip=$addr router=${new_routers:-${router:-}} dns=${new_domain_name_servers:-${dns:-}}" >>"$HOOK_LOG"
case "$ev" in
BOUND|RENEW|REBIND|REBOOT|bound|renew)
	[ -n "$addr" ] && [ -z "${new_subnet_cidr:-}" ] && {
		plen=${mask:-16}
		ip addr flush dev "$interface" 2>/dev/null
		ip addr add "$addr/$plen" dev "$interface" 2>/dev/null
	} ;;
RELEASE|EXPIRE|STOP|deconfig)
	[ -z "${new_subnet_cidr:-}" ] && ip addr flush dev "$interface" 2>/dev/null ;;
esac
exit 0
HOOK
chmod +x "$hook"
# Each client gets a wrapper that names its event log (dhcpcd runs hooks
# with a clean environment).
for c in dhcpcd dhclient udhcpc; do
	printf '#!/bin/sh\nHOOK_LOG=%s exec %s "$@"\n' "$work/$c.events" "$hook" >"$work/$c.sh"
	chmod +x "$work/$c.sh"
done

# dhcpcd keeps state under compiled-in paths: give it a private mount
# namespace with temp dirs over /run/dhcpcd and /var/lib/dhcpcd.
mkdir -p "$work/dhcpcd/run" "$work/dhcpcd/lib"
cat >"$work/dhcpcd.conf" <<CONF
script $work/dhcpcd.sh
nodelay
noarp
option domain_name_servers, routers
CONF
ip netns exec "$tag-c0" unshare -m --propagation private sh -c "
	mount --bind $work/dhcpcd/run /run && mkdir -p /run/dhcpcd &&
	mount --bind $work/dhcpcd/lib /var/lib &&
	exec dhcpcd -f $work/dhcpcd.conf -B -4 vcli" >"$work/dhcpcd.log" 2>&1 &
pids+=($!)

: >"$work/dhclient.conf"
ip netns exec "$tag-c1" dhclient -d -4 -sf "$work/dhclient.sh" -lf "$work/dhclient.leases" \
	-pf "$work/dhclient.pid" -cf "$work/dhclient.conf" vcli >"$work/dhclient.log" 2>&1 &
pids+=($!)

ip netns exec "$tag-c2" udhcpc -f -i vcli -s "$work/udhcpc.sh" -p "$work/udhcpc.pid" >"$work/udhcpc.log" 2>&1 &
pids+=($!)

bound() { [ "$(ctl leases --json | grep -o '"state": *"bound"' | wc -l)" -ge 3 ]; }
wait_for 30 "three bound leases" bound

step "what each client was told (from its hook script)"
for c in dhcpcd dhclient udhcpc; do
	printf '%-9s %s\n' "$c:" "$(grep -E 'BOUND|bound|REBOOT|RENEW' "$work/$c.events" | tail -n 1)"
done

step "leasectl leases"
ctl leases
step "leasectl pools"
ctl pools

step "renew: udhcpc renews on SIGUSR1, the lease's expiry moves"
before=$(ctl lease "$(awk '/bound/ {a=$3} END {sub("ip=","",a); print a}' "$work/udhcpc.events")" --json | grep -o '"expires": *"[^"]*"')
sleep 1.1
kill -USR1 "$(cat "$work/udhcpc.pid")"
renewed() { grep -q renew "$work/udhcpc.events"; }
wait_for 10 "udhcpc to renew" renewed
grep renew "$work/udhcpc.events" | tail -n 1
after=$(ctl lease "$(awk '/bound/ {a=$3} END {sub("ip=","",a); print a}' "$work/udhcpc.events")" --json | grep -o '"expires": *"[^"]*"')
echo "before: $before"
echo "after:  $after"

step "release: dhclient -r gives its address back"
ip netns exec "$tag-c1" dhclient -r -sf "$work/dhclient.sh" -lf "$work/dhclient.leases" \
	-pf "$work/dhclient.pid" -cf "$work/dhclient.conf" vcli >>"$work/dhclient.log" 2>&1 || true
released() { ctl leases --state released | grep -q released; }
wait_for 10 "the released lease" released
ctl leases

step "reconfiguration: the pool's DNS server changes to 10.77.0.53; SIGHUP; a FORCERENEW campaign"
sed -i "s#dns: \[10.77.0.1\]#dns: [10.77.0.53]#" "$work/leased.yaml"
kill -HUP "${pids[0]}"
reloaded() { grep -q '"msg":"reloaded"' "$work/leased.log"; }
wait_for 10 "leased to reload" reloaded
# --wait follows the campaign to its end; it exits 1 because udhcpc
# ignores FORCERENEW (not_capable), which is expected here.
ctl forcerenew start --pool office --attempts 3 --interval 1s --wait || true
dhcpcd_dns() { grep RENEW "$work/dhcpcd.events" | grep -q 10.77.0.53; }
wait_for 10 "dhcpcd to renew with the new DNS server" dhcpcd_dns
printf '%-9s %s\n' "dhcpcd:" "$(grep RENEW "$work/dhcpcd.events" | tail -n 1)"
ctl forcerenew clients 1
ctl forcerenew status

step "DHCPv6: dhcpcd -6 asks for an address (IA_NA) and a delegated prefix (IA_PD)"
# dhcpcd 9.4 sends Reconfigure Accept (option 20) only when told to; with it
# leased's Reply carries a reconfigure key (RFC 8415 §20.4).
cat >"$work/hook6.sh" <<'HOOK'
#!/bin/sh
echo "$(date +%T) $reason addr=${new_dhcp6_ia_na1_ia_addr1:-} prefix=${new_dhcp6_ia_pd1_prefix1:+$new_dhcp6_ia_pd1_prefix1/$new_dhcp6_ia_pd1_prefix1_length} dns=${new_dhcp6_name_servers:-}" >>"$HOOK_LOG"
exit 0
HOOK
chmod +x "$work/hook6.sh"
printf '#!/bin/sh\nHOOK_LOG=%s exec %s "$@"\n' "$work/dhcpcd6.events" "$work/hook6.sh" >"$work/dhcpcd6.sh"
chmod +x "$work/dhcpcd6.sh"
mkdir -p "$work/dhcpcd6/run" "$work/dhcpcd6/lib"
cat >"$work/dhcpcd6.conf" <<CONF
script $work/dhcpcd6.sh
nodelay
ipv6only
noipv6rs
option dhcp6_name_servers, reconfigure_accept
interface vcli
  ia_na 1
  ia_pd 2 -
CONF
ip netns exec "$tag-c3" unshare -m --propagation private sh -c "
	mount -t tmpfs tmpfs /run && mkdir -p /run/dhcpcd &&
	mount --bind $work/dhcpcd6/run /run/dhcpcd && mount --bind $work/dhcpcd6/lib /var/lib/dhcpcd &&
	exec dhcpcd -f $work/dhcpcd6.conf -B -6 vcli" >"$work/dhcpcd6.log" 2>&1 &
pids+=($!)
bound6() { grep -q BOUND6 "$work/dhcpcd6.events"; }
wait_for 20 "dhcpcd -6 to bind" bound6
printf '%-9s %s\n' "dhcpcd6:" "$(grep BOUND6 "$work/dhcpcd6.events" | tail -n 1)"
step "leasectl leases (DHCPv4 and DHCPv6)"
ctl leases

step "Reconfigure: office6's DNS server changes to fd77::53; SIGHUP; a DHCPv6 Reconfigure campaign"
sed -i "s#dns: \[fd77::1\]#dns: [fd77::53]#" "$work/leased.yaml"
grep -q 'fd77::53' "$work/leased.yaml" || { echo "demo: no 'dns: [fd77::1]' line to change in the dhcpv6 section" >&2; exit 1; }
reloads=$(grep -c '"msg":"reloaded"' "$work/leased.log" || true)
kill -HUP "${pids[0]}"
reloaded2() { [ "$(grep -c '"msg":"reloaded"' "$work/leased.log")" -gt "$reloads" ]; }
wait_for 10 "leased to reload" reloaded2
ctl reconfigure start --family 6 --pool office6 --attempts 3 --interval 1s --wait
renewed6() { grep -E 'RENEW6|REBIND6' "$work/dhcpcd6.events" | grep -q fd77::53; }
wait_for 10 "dhcpcd -6 to renew with the new DNS server" renewed6
printf '%-9s %s\n' "dhcpcd6:" "$(grep -E 'RENEW6|REBIND6' "$work/dhcpcd6.events" | tail -n 1)"

step "done: tearing down namespaces and processes"
