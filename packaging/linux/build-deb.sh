#!/usr/bin/env bash
# Build dist/vpnguard_<version>_<arch>.deb with dpkg-deb.
#
# Debian 12 has no python3-pyside6, so the package carries a private
# virtualenv in /opt/vpnguard/venv built from our wheel and its dependencies
# (PySide6-Essentials, psutil, netifaces-plus, keyring, platformdirs). The
# venv's python is a symlink to the system /usr/bin/python3 (3.11 on
# Debian 12), so the package depends on python3 (>= 3.11) but on no python3-*
# library. /usr/bin/vpnguard and /usr/bin/vpnguard-gui are symlinks into it;
# the privileged helper is /usr/libexec/vpnguard/vpnguard-helper, the exact
# path the polkit action names, started with "python -I" (isolated mode).
#
# Build on the release you target (the venv is tied to its python3 minor
# version). Takes about a minute: most of it is unpacking PySide6.
#   packaging/linux/build-deb.sh            # -> dist/vpnguard_0.1.0_amd64.deb
#   DEB_COMPRESSION=xz packaging/linux/build-deb.sh   # smaller, slower
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$(pwd)
PY=${PYTHON:-/usr/bin/python3}
VERSION=$("$PY" -c 'import re,sys; print(re.search(r"^version = \"(.+)\"", open("pyproject.toml").read(), re.M).group(1))')
ARCH=$(dpkg --print-architecture)
PYVER=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
OUT=${OUT:-$REPO/dist}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
STAGE=$WORK/stage
PREFIX=/opt/vpnguard
VENV=$PREFIX/venv

echo "building vpnguard $VERSION for $ARCH (python $PYVER)"
mkdir -p "$WORK/wheels" "$OUT"
"$PY" -m pip wheel --no-deps -q -w "$WORK/wheels" "$REPO"

# The venv is created at its final path inside the staging tree, then its
# absolute staging paths (shebangs, activate scripts) are rewritten.
"$PY" -m venv --without-pip "$STAGE$VENV"
"$PY" -m pip --python "$STAGE$VENV/bin/python" install -q --no-cache-dir --no-warn-script-location \
    "$WORK"/wheels/vpnguard-*.whl
ln -sf "$PY" "$STAGE$VENV/bin/python3"
ln -sf python3 "$STAGE$VENV/bin/python"
grep -rlI --null "$STAGE" "$STAGE$VENV/bin" | xargs -0 -r sed -i "s|$STAGE||g"
sed -i "s|^home = .*|home = $(dirname "$PY")|" "$STAGE$VENV/pyvenv.cfg"
rm -f "$STAGE$VENV"/bin/activate* "$STAGE$VENV"/bin/Activate.ps1
find "$STAGE$VENV" -name '__pycache__' -type d -prune -exec rm -rf {} +
# Qt's translations and the PySide6 designer/tool wrappers are not used by the app.
rm -rf "$STAGE$VENV"/lib/python*/site-packages/PySide6/Qt/translations

install -d "$STAGE/usr/bin" "$STAGE/usr/libexec/vpnguard"
ln -s "../..$VENV/bin/vpnguard" "$STAGE/usr/bin/vpnguard"
ln -s "../..$VENV/bin/vpnguard-gui" "$STAGE/usr/bin/vpnguard-gui"
cat > "$STAGE/usr/libexec/vpnguard/vpnguard-helper" <<HELPER
#!$VENV/bin/python3 -I
# vpnguard's privileged helper, started by pkexec (polkit action org.vpnguard.protect).
import sys

from vpnguard.privileged import main

sys.exit(main())
HELPER
chmod 0755 "$STAGE/usr/libexec/vpnguard/vpnguard-helper"

install -Dm644 resources/linux/org.vpnguard.VpnGuard.desktop \
    "$STAGE/usr/share/applications/org.vpnguard.VpnGuard.desktop"
install -Dm644 resources/linux/org.vpnguard.VpnGuard.metainfo.xml \
    "$STAGE/usr/share/metainfo/org.vpnguard.VpnGuard.metainfo.xml"
install -Dm644 resources/icons/org.vpnguard.VpnGuard.svg \
    "$STAGE/usr/share/icons/hicolor/scalable/apps/org.vpnguard.VpnGuard.svg"
install -Dm644 resources/linux/org.vpnguard.protect.policy \
    "$STAGE/usr/share/polkit-1/actions/org.vpnguard.protect.policy"
install -Dm644 README.md "$STAGE/usr/share/doc/vpnguard/README.md"

SIZE=$(du -sk "$STAGE" | cut -f1)
install -d "$STAGE/DEBIAN"
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: vpnguard
Version: $VERSION
Architecture: $ARCH
Maintainer: vpnguard developers <maintainers@vpnguard.invalid>
Installed-Size: $SIZE
Depends: python3 (>= $PYVER), python3 (<< ${PYVER%.*}.$(( ${PYVER#*.} + 1 ))), pkexec | policykit-1,
 libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxkbcommon-x11-0, libegl1, libgl1,
 libfontconfig1, libdbus-1-3
Recommends: chromium | firefox-esr
Section: net
Priority: optional
Homepage: https://github.com/vpnguard/vpnguard
Description: keep WebRTC from revealing your address around your VPN
 vpnguard detects your browsers and your VPN (full or split tunnel),
 protects the browsers by writing the enterprise WebRTC policy each one
 honors, undoes exactly what it wrote, and proves it with a leak check.
 Ships a private Python environment in /opt/vpnguard (PySide6 is not
 packaged in Debian 12).
CONTROL
cat > "$STAGE/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    /opt/vpnguard/venv/bin/python3 -I -m compileall -q /opt/vpnguard/venv/lib >/dev/null 2>&1 || true
fi
POSTINST
cat > "$STAGE/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
find /opt/vpnguard/venv -name '__pycache__' -type d -prune -exec rm -rf {} + 2>/dev/null || true
PRERM
chmod 0755 "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/prerm"

DEB="$OUT/vpnguard_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-gzip}" --build "$STAGE" "$DEB" >/dev/null
echo "$DEB"
