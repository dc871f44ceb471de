#!/usr/bin/env bash
# Builds leased_<version>_<arch>.deb from the repository: dpkg-deb --build of
# a staged tree. Usage: packaging/mkdeb.sh [OUTDIR]   (make deb)
# VERSION (default: git describe) is the version the binaries report; the
# package version is it without a leading v (0.0~git<VERSION> when it does
# not start with a digit, as Debian requires).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
debver=${VERSION#v}
[[ $debver =~ ^[0-9] ]] || debver="0.0~git${debver}"
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage"

mkdir -p "$stage/DEBIAN" "$stage/usr/sbin" "$stage/usr/bin" "$stage/lib/systemd/system" \
	"$stage/etc/leased" "$stage/usr/share/doc/leased" "$stage/usr/share/man"
ldflags="-s -w -X github.com/leased/leased/internal/buildinfo.version=$VERSION"
CGO_ENABLED=0 $GO build -trimpath -buildvcs=auto -ldflags "$ldflags" -o "$stage/usr/sbin/leased" ./cmd/leased
CGO_ENABLED=0 $GO build -trimpath -buildvcs=auto -ldflags "$ldflags" -o "$stage/usr/bin/leasectl" ./cmd/leasectl
$GO run ./packaging/genman -leased "$stage/usr/sbin/leased" -leasectl "$stage/usr/bin/leasectl" \
	-out "$stage/usr/share/man" -version "$VERSION"
gzip -9n "$stage/usr/share/man/man8/leased.8" "$stage/usr/share/man/man1/leasectl.1"

# The unit runs the packaged binary; DynamicUser: no system user to create.
# Its ExecReload runs /bin/kill, which Debian ships in procps (not
# essential: a minimal bookworm with systemd lacks it, and reload then
# fails with 203/EXEC — scripts/deb-systemd-check.sh), hence Depends.
sed 's|/usr/local/sbin/leased|/usr/sbin/leased|g' examples/leased.service >"$stage/lib/systemd/system/leased.service"
install -m 0644 examples/leased.yaml "$stage/etc/leased/leased.yaml"
install -m 0644 docs/operator-guide.md docs/config.md "$stage/usr/share/doc/leased/"
[ -f docs/reconfiguration.md ] && install -m 0644 docs/reconfiguration.md "$stage/usr/share/doc/leased/"
cat >"$stage/usr/share/doc/leased/copyright" <<'C'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: leased
Files: *
Copyright: the leased authors
License: see the source repository
C

size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<C
Package: leased
Version: $debver
Architecture: $arch
Maintainer: leased developers <leased@localhost>
Installed-Size: $size
Section: net
Priority: optional
Depends: procps
Recommends: systemd
Homepage: https://github.com/leased/leased
Description: DHCPv4/DHCPv6 server with server-initiated reconfiguration
 leased is a crash-safe, fast DHCPv4 and DHCPv6 server whose distinguishing
 feature is reconfiguration: FORCERENEW (RFC 3203, RFC 6704) and DHCPv6
 Reconfigure campaigns with retries, progress and a defined outcome per
 client. leasectl manages a running server; a status page shows pools,
 campaigns and health.
C
echo /etc/leased/leased.yaml >"$stage/DEBIAN/conffiles"
# No service start on install: the operator edits /etc/leased/leased.yaml,
# then systemctl enable --now leased. With DPKG_ROOT set (dpkg --root with
# --force-script-chrootless) the host's systemd is left alone.
cat >"$stage/DEBIAN/postinst" <<'S'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
S
cat >"$stage/DEBIAN/prerm" <<'S'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl stop leased.service >/dev/null 2>&1 || true
fi
exit 0
S
cat >"$stage/DEBIAN/postrm" <<'S'
#!/bin/sh
set -e
if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
S
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"
mkdir -p "$out"
deb="$out/leased_${debver}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
