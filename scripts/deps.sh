#!/usr/bin/env bash
# Installs the Debian packages leased's tests and demo need, when missing.
# Only Debian packages are installed; nothing else is downloaded.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip       || need+=(iproute2)
have dhcpcd   || need+=(dhcpcd-base)
have dhclient || need+=(isc-dhcp-client)
have udhcpc   || need+=(udhcpc)
have perfdhcp || need+=(kea-admin)
have dhcrelay || need+=(isc-dhcp-relay)    # DHCPv6 relays of e2e TestRelay6
have dibbler-relay || need+=(dibbler-relay)
have unshare  || need+=(util-linux)
have radclient || need+=(freeradius-utils) # RADIUS DAS e2e (das/, issue #16)
[ -x /usr/sbin/named ] || need+=(bind9)     # dynamic DNS e2e: the tests run their own named
have nsupdate || need+=(bind9-dnsutils)
have chromium || need+=(chromium)          # status page browser tests (api/status, e2e TestStatusPage; chromedp)
have man || need+=(man-db)                # packaging TestDeb renders the generated man pages
have systemd-analyze || need+=(systemd)   # examples TestUnitVerify/TestUnitSecurity (verify and security --offline only; nothing is started)
have dpkg-deb || need+=(dpkg)
have debootstrap || need+=(debootstrap)        # packaging TestDeb/systemd: a clean Debian 12 root for the package
have systemd-nspawn || need+=(systemd-container) # ... booted with systemd as PID 1 (--private-network)
# store/postgres and internal/pgtest: the tests run their own server from
# these binaries in a temporary directory, never the system's cluster.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${need[*]}; run as root (apt-get install ${need[*]})" >&2
	exit 1
fi
echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# These packages ship daemons (dhcrelay, dibbler-relay, postgresql, named) that must never run
# on this machine's real interfaces: keep the package scripts from starting
# any service while they install (policy-rc.d exit 101 = "not allowed",
# honoured by invoke-rc.d and deb-systemd-invoke). The tests start their
# own copies inside network namespaces.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod 0755 /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
