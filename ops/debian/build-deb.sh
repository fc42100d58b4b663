#!/usr/bin/env bash
# Builds pacer_<version>_<arch>.deb from a built binary: the binary, systemd units for each part,
# example configuration in /etc/pacer (kept on upgrade), a `pacer` system user, state in /var/lib/pacer.
#   ops/debian/build-deb.sh BINARY OUTPUT_DIR      (make deb: the release binary into .build/deb)
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:?binary}; OUT=${2:?output directory}
VERSION=${PACER_VERSION:-0.$(git rev-list --count HEAD 2>/dev/null || echo 0)}
ARCH=$(dpkg --print-architecture)
# The package must run where no Swift toolchain is installed: the Swift runtime is linked in
# (--static-swift-stdlib). PACER_DEB_ALLOW_DYNAMIC=1 lets a test package a debug build
# (PACER_DEB_COMPRESS=none: without spending half a minute compressing it).
if ldd "$BIN" | grep -q libswiftCore && [ -z "${PACER_DEB_ALLOW_DYNAMIC:-}" ]; then
    echo "$BIN links the Swift runtime dynamically: build it with --static-swift-stdlib (make deb does)" >&2
    exit 1
fi
ROOT=$(mktemp -d /tmp/pacer-deb-XXXX)
chmod 0755 "$ROOT"
trap 'rm -rf "$ROOT"' EXIT

install -D -m 0755 "$BIN" "$ROOT/usr/bin/pacer"
# Symbols are for debugging builds, not for every machine (PACER_DEB_STRIP=0 keeps them).
if [ "${PACER_DEB_STRIP:-1}" = 1 ]; then strip --strip-unneeded "$ROOT/usr/bin/pacer"; fi
for unit in ops/debian/units/*.service; do install -D -m 0644 "$unit" "$ROOT/lib/systemd/system/$(basename "$unit")"; done
install -D -m 0644 ops/debian/etc/pacer.yaml "$ROOT/etc/pacer/pacer.yaml"
install -D -m 0644 lb-config/local.yaml "$ROOT/etc/pacer/lb.yaml"
for doc in README.md docs/*.md; do install -D -m 0644 "$doc" "$ROOT/usr/share/doc/pacer/$(basename "$doc")"; done
install -D -m 0644 ops/prometheus/alerts.yml "$ROOT/usr/share/doc/pacer/prometheus/alerts.yml"

mkdir -p "$ROOT/DEBIAN"
SIZE=$(du -sk "$ROOT" | cut -f1)
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: pacer
Version: $VERSION
Architecture: $ARCH
Maintainer: Pacer developers <pacer@localhost>
Installed-Size: $SIZE
Depends: libevent-2.1-7 | libevent-2.1-7t64, libevent-pthreads-2.1-7 | libevent-pthreads-2.1-7t64, libevent-openssl-2.1-7 | libevent-openssl-2.1-7t64, libssl3 | libssl3t64, libsqlite3-0, adduser
Recommends: etcd-server
Section: admin
Priority: optional
Description: run long-lived services on a cluster and reach them through a load balancer
 Pacer is a master/agent cluster manager, a Marathon-compatible app framework and a load
 balancer in one binary. Enable the units a machine needs: pacer-master, pacer-framework,
 pacer-agent, pacer-lb; configure them in /etc/pacer/pacer.yaml.
CONTROL
printf '/etc/pacer/pacer.yaml\n/etc/pacer/lb.yaml\n' > "$ROOT/DEBIAN/conffiles"
cat > "$ROOT/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent group pacer >/dev/null || addgroup --system pacer
    getent passwd pacer >/dev/null || adduser --system --ingroup pacer --home /var/lib/pacer --no-create-home pacer
    install -d -o pacer -g pacer -m 0750 /var/lib/pacer
    if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
POSTINST
cat > "$ROOT/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
# State (apps, tasks, checkpoints) is kept on purge too: remove /var/lib/pacer by hand.
POSTRM
chmod 0755 "$ROOT/DEBIAN/postinst" "$ROOT/DEBIAN/postrm"
mkdir -p "$OUT"
dpkg-deb --root-owner-group -Z"${PACER_DEB_COMPRESS:-xz}" --build "$ROOT" "$OUT/pacer_${VERSION}_${ARCH}.deb" >/dev/null
echo "$OUT/pacer_${VERSION}_${ARCH}.deb"
