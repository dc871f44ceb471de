#!/usr/bin/env bash
# Installs leased's Debian package on a clean Debian 12 booted with systemd
# as PID 1 and checks that the service starts (Type=notify: active
# (running) only after READY=1), answers leasectl, reloads and stops.
#
#   sudo scripts/deb-systemd-check.sh            # builds the package (make deb)
#   sudo DEB=dist/leased_1.2.3_amd64.deb scripts/deb-systemd-check.sh
#
# A minimal bookworm root is debootstrapped into a temporary directory
# (~240 MB, 2-3 minutes from the apt mirror; MIRROR overrides the one in
# /etc/apt/sources.list.d/debian.sources; ROOT_CACHE=FILE.tar keeps a
# pristine copy and reuses it on the next run), booted with systemd-nspawn
# --private-network (the container sees only its own loopback: leased
# serves lo, no real interface), driven with nsenter (no machined needed),
# powered off, and removed. Needs root, debootstrap and systemd-nspawn
# (Debian: debootstrap, systemd-container). Every wait is bounded; the
# container is stopped by the PID this script started.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, systemd-nspawn)"
for t in debootstrap systemd-nspawn nsenter dpkg-deb; do
	command -v "$t" >/dev/null || fail "$t not found (apt-get install debootstrap systemd-container)"
done
if [ -z "${MIRROR:-}" ]; then
	MIRROR=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
	MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi

tmp=$(mktemp -d /tmp/leased-deb-systemd.XXXXXX)
nspawn_pid=""
cleanup() {
	if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
		kill "$nspawn_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$nspawn_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

if [ -z "${DEB:-}" ]; then
	say "building the package"
	DEB=$(VERSION=${VERSION:-v0.0.0-systemdcheck} packaging/mkdeb.sh "$tmp/out")
fi
[ -f "$DEB" ] || fail "no package at $DEB"
say "package $(basename "$DEB")"

start=$(date +%s)
if [ -n "${ROOT_CACHE:-}" ] && [ -f "$ROOT_CACHE" ]; then
	say "root from $ROOT_CACHE"
	mkdir "$tmp/root"
	tar -C "$tmp/root" -xf "$ROOT_CACHE"
else
	say "debootstrap bookworm (minbase + systemd, procps: the package's dependency) from $MIRROR"
	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,procps bookworm "$tmp/root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
		{ tail -20 "$tmp/debootstrap.log"; fail "debootstrap"; }
	if [ -n "${ROOT_CACHE:-}" ]; then
		tar -C "$tmp/root" -cf "$ROOT_CACHE" .
	fi
fi
say "root ready in $(($(date +%s) - start)) s"
cp "$DEB" "$tmp/root/root/leased.deb"

say "booting it with systemd-nspawn --private-network"
# --register=no --keep-unit: no machined/scope on the host (it need not run
# systemd itself).
systemd-nspawn -D "$tmp/root" --private-network --register=no --keep-unit -b --console=passive \
	>"$tmp/nspawn.log" 2>&1 &
nspawn_pid=$!
pid1=""
for _ in $(seq 100); do
	pid1=$(pgrep -P "$nspawn_pid" -x systemd || true)
	[ -n "$pid1" ] && break
	kill -0 "$nspawn_pid" 2>/dev/null || { cat "$tmp/nspawn.log"; fail "systemd-nspawn exited"; }
	sleep 0.2
done
[ -n "$pid1" ] || { cat "$tmp/nspawn.log"; fail "no systemd in the container"; }
ct() { nsenter -t "$pid1" -a "$@"; }
state=""
for _ in $(seq 120); do
	state=$(ct systemctl is-system-running 2>/dev/null || true)
	case $state in running | degraded) break ;; esac
	sleep 0.5
done
case $state in running | degraded) ;; *) fail "container systemd state: ${state:-none}" ;; esac
say "container systemd: $state ($(ct systemctl --version | head -1))"

say "dpkg -i"
ct dpkg -i /root/leased.deb
ct test -x /usr/sbin/leased || fail "leased not installed"
# The example configuration serves an interface this container does not
# have; serve its loopback instead.
cat >"$tmp/root/etc/leased/leased.yaml" <<'Y'
data_dir: /var/lib/leased
control:
  socket: /run/leased/control.sock
dhcpv4:
  interfaces: [lo]
  pools:
    - name: loop
      subnet: 127.0.0.0/24
      gateway: 127.0.0.1
      sections:
        - {index: 0, start: 127.0.0.100, end: 127.0.0.200}
Y

prop() { ct systemctl show leased -p "$1" --value; }
show() { echo "$(prop ActiveState) $(prop SubState) $(prop Type) $(prop MainPID) $(prop NRestarts)"; }
say "systemctl start leased"
if ! ct timeout 60 systemctl start leased; then
	ct systemctl status leased --no-pager -l || true
	ct journalctl -u leased --no-pager -n 50 || true
	fail "systemctl start leased"
fi
read -r active sub type mainpid restarts <<<"$(show)"
say "leased: $active ($sub), Type=$type, MainPID=$mainpid, restarts=$restarts"
[ "$active $sub $type" = "active running notify" ] || { ct journalctl -u leased --no-pager -n 50; fail "not active (running) with Type=notify"; }
ct systemctl status leased --no-pager -l | sed -n '1,12p'
ct leasectl health || fail "leasectl health"
uid=$(ct awk '/^Uid:/ {print $2}' "/proc/$mainpid/status" || true)
say "main process uid: ${uid:-?} (DynamicUser: not 0)"
[ -n "$uid" ] && [ "$uid" != 0 ] || fail "leased runs as uid ${uid:-?}"

say "systemctl reload leased"
ct timeout 60 systemctl reload leased || { ct journalctl -u leased --no-pager -n 30; fail "reload"; }
read -r active sub _ <<<"$(show)"
[ "$active $sub" = "active running" ] || fail "after reload: $active $sub"
ct journalctl -u leased --no-pager -o cat | grep -q "configuration reloaded\|reloaded" || fail "no reload in the journal"

say "systemctl stop leased; dpkg -r leased"
ct timeout 60 systemctl stop leased
read -r active _ <<<"$(show)"
[ "$active" = inactive ] || fail "after stop: $active"
ct dpkg -r leased >/dev/null
ct test ! -e /usr/sbin/leased || fail "binary left after dpkg -r"
ct test -e /etc/leased/leased.yaml || fail "conffile removed by dpkg -r"

say "poweroff"
ct systemctl poweroff --no-block || true
for _ in $(seq 150); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$nspawn_pid" 2>/dev/null; then
	fail "container did not power off in 30 s"
fi
wait "$nspawn_pid" || true
nspawn_pid=""
say "OK: installed, started (Type=notify, active running), reloaded, stopped and removed under systemd as PID 1"
