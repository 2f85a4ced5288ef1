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
#
# Only what the app runs is kept: the PySide6 modules QtCore/QtGui/QtWidgets/
# QtSvg, the Qt libraries those (and the kept plugins) need, found by
# following ELF NEEDED entries; no Qt tools, QML, Designer, type stubs or
# pyside6-* wrappers. Shared objects are stripped and not executable. The
# build prints the package size.
#
# lintian: the only errors left are the two a private venv in /opt implies,
# dir-or-file-in-opt (Debian 12 has no python3-pyside6, so the app carries
# its own environment, in /opt as the FHS allows for add-on packages) and
# embedded-library (that environment's copies of ICU, zstd and friends inside
# the PySide6 wheel, which is only tested against its own copies).
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
rm -rf "$REPO/build"  # a stale setuptools build/ would put deleted modules in the wheel
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

# ---- keep only what the app runs -------------------------------------------------------
SITE=$(echo "$STAGE$VENV"/lib/python*/site-packages)
PYS=$SITE/PySide6
KEEP_MODULES="QtCore QtGui QtWidgets QtSvg"
rm -f "$STAGE$VENV"/bin/pyside6-*
for f in "$PYS"/*.abi3.so "$PYS"/*.pyi; do
    m=$(basename "$f"); m=${m%%.*}
    case " $KEEP_MODULES " in *" $m "*) ;; *) rm -f "$f" ;; esac
done
rm -f "$PYS"/*.pyi "$SITE"/shiboken6/*.pyi
# Tools (designer, linguist, qmlls ...), headers, typesystems, QML, translations.
find "$PYS" -maxdepth 1 -type f -executable ! -name '*.so*' -delete
rm -rf "$PYS"/{include,typesystems,glue,doc,scripts,lib,Qt/qml,Qt/metatypes,Qt/libexec,Qt/translations}
rm -f "$PYS"/libpyside6qml.*
PLUG=$PYS/Qt/plugins
for d in "$PLUG"/*; do
    case $(basename "$d") in
        platforms|platformthemes|platforminputcontexts|iconengines|imageformats|xcbglintegrations) ;;
        wayland-shell-integration|wayland-decoration-client|wayland-graphics-integration-client) ;;
        *) rm -rf "$d" ;;
    esac
done
find "$PLUG/platforms" -type f ! -name libqxcb.so ! -name libqwayland.so ! -name libqoffscreen.so -delete
find "$PLUG/imageformats" -type f ! -name libqsvg.so ! -name libqico.so -delete
rm -f "$PLUG"/platforminputcontexts/libqtvirtualkeyboardplugin.so  # pulls in QtQuick/QML
# Qt libraries: keep the closure of what the kept modules and plugins load.
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
keep=$(mktemp)
queue=$(find "$PYS" "$SITE/shiboken6" -name '*.so*' -type f ! -path '*/Qt/lib/*')
while [ -n "$queue" ]; do
    next=""
    for f in $queue; do
        for lib in $(needed "$f"); do
            if [ -e "$PYS/Qt/lib/$lib" ] && ! grep -qxF "$lib" "$keep"; then
                echo "$lib" >> "$keep"
                next="$next $PYS/Qt/lib/$lib"
            fi
        done
    done
    queue=$next
done
for lib in "$PYS"/Qt/lib/*; do
    [ -f "$lib" ] || continue
    grep -qxF "$(basename "$lib")" "$keep" || rm -f "$lib"
done
rm -rf "$PYS"/Qt/lib/cmake "$PYS"/Qt/lib/pkgconfig "$PYS"/Qt/lib/*.prl
rm -f "$keep"
# Shared objects: stripped, and not executable (they are loaded, never run).
find "$STAGE$VENV" -type f \( -name '*.so' -o -name '*.so.*' \) -print0 |
    xargs -0 -r strip --strip-unneeded
find "$STAGE$VENV" -type f \( -name '*.so' -o -name '*.so.*' \) -exec chmod 0644 {} +
find "$STAGE$VENV" -type d -empty -delete

install -d "$STAGE/usr/bin" "$STAGE/usr/libexec/vpnguard"
ln -s "$VENV/bin/vpnguard" "$STAGE/usr/bin/vpnguard"
ln -s "$VENV/bin/vpnguard-gui" "$STAGE/usr/bin/vpnguard-gui"
# The helper runs the system python3 in isolated mode (-I: no PYTHONPATH, no user
# site), with the package's own root-owned site-packages first on its path.
SITE_RT=${SITE#"$STAGE"}
cat > "$STAGE/usr/libexec/vpnguard/vpnguard-helper" <<HELPER
#!/usr/bin/python3 -I
# vpnguard's privileged helper, started by pkexec (polkit action org.vpnguard.protect).
import sys

sys.path.insert(0, "$SITE_RT")

from vpnguard.privileged import main  # noqa: E402

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
# Debian policy: a copyright file and a compressed changelog (native package).
cat > "$STAGE/usr/share/doc/vpnguard/copyright" <<'COPYRIGHT'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: vpnguard
Source: https://github.com/vpnguard/vpnguard

Files: *
Copyright: vpnguard developers
License: GPL-3.0-or-later
 On Debian systems the full text is in /usr/share/common-licenses/GPL-3.

Files: opt/vpnguard/venv/lib/*/site-packages/PySide6/* opt/vpnguard/venv/lib/*/site-packages/shiboken6/*
Copyright: The Qt Company Ltd. and other contributors
License: LGPL-3.0-only
 On Debian systems the full text is in /usr/share/common-licenses/LGPL-3.
 The unmodified PySide6-Essentials wheel from PyPI; its license files are in
 the *.dist-info folders beside it.

Files: opt/vpnguard/venv/lib/*/site-packages/*
Copyright: the authors of each Python distribution
License: various-free
 Each distribution's license is in its *.dist-info folder.
COPYRIGHT
{
    echo "vpnguard ($VERSION) unstable; urgency=medium"
    echo
    echo "  * Release $VERSION; see /usr/share/doc/vpnguard/README.md and the"
    echo "    project's CHANGELOG.md."
    echo
    echo " -- vpnguard developers <maintainers@vpnguard.invalid>  $(date -uR -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")"
} | gzip -9n > "$STAGE/usr/share/doc/vpnguard/changelog.gz"
chmod 0644 "$STAGE/usr/share/doc/vpnguard/changelog.gz"

SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
install -d "$STAGE/DEBIAN"
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: vpnguard
Version: $VERSION
Architecture: $ARCH
Maintainer: vpnguard developers <maintainers@vpnguard.invalid>
Installed-Size: $SIZE
Depends: python3 (>= $PYVER), python3 (<< ${PYVER%.*}.$(( ${PYVER#*.} + 1 ))), libc6 (>= 2.28), pkexec | policykit-1, libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1, libxkbcommon-x11-0, libegl1, libgl1, libfontconfig1, libdbus-1-3
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
# Whatever the package did not ship (bytecode from postinst) goes on remove, and
# the /opt/vpnguard folder itself on purge. vpnguard's journal in /var/lib/vpnguard
# stays: it is what undoes protection still written in /etc.
cat > "$STAGE/DEBIAN/postrm" <<'POSTRM'
#!/bin/sh
set -e
case "$1" in
    remove|purge)
        find /opt/vpnguard -name '__pycache__' -type d -prune -exec rm -rf {} + 2>/dev/null || true
        ;;
esac
if [ "$1" = purge ]; then
    rm -rf /opt/vpnguard
fi
POSTRM
chmod 0755 "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/prerm" "$STAGE/DEBIAN/postrm"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -print0 | LC_ALL=C sort -z |
    xargs -0 md5sum | sed 's|  \./|  |') > "$STAGE/DEBIAN/md5sums"
chmod 0644 "$STAGE/DEBIAN/md5sums"

DEB="$OUT/vpnguard_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-gzip}" --build "$STAGE" "$DEB" >/dev/null
echo "package size: $(stat -c %s "$DEB") bytes ($(( $(stat -c %s "$DEB") / 1000000 )) MB), installed $SIZE KiB" >&2
echo "$DEB"
