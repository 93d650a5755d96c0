#!/usr/bin/env bash
# check-install.sh: install asm into a staging directory and use it from there
#
# Usage: check-install.sh BUILD_DIR SOURCE_DIR
# Environment: MESON (default meson), CC (default cc), PKG_CONFIG (default
# pkg-config), READELF (default readelf), ASM_KEEP_TMP=1 keeps the staging
# directory for a look after a failure.
#
# 1. `meson install --destdir` the build into a temporary directory.
# 2. Check the layout against DESIGN.md section 2: headers in
#    ${includedir}/asm-1/asm/, libasm-1.so.0 (SONAME libasm-1.so.0) in
#    ${libdir} (which may be lib/x86_64-linux-gnu), asm-1.pc in
#    ${libdir}/pkgconfig, Asm-1.0.gir in ${datadir}/gir-1.0 and
#    Asm-1.0.typelib in ${libdir}/girepository-1.0; nothing in ${includedir}/asm/ (the kernel's) and
#    no libasm.so* (elfutils').
# 3. Build tests/install/consumer.c, which includes <linux/types.h>,
#    <sys/ioctl.h>, <asm/types.h> and <asm/asm.h> together, with nothing but
#    `pkg-config --cflags --libs asm-1`, and run it against the staged
#    library.
#
# About step 3: asm-1.pc holds absolute paths (libdir=/usr/local/lib/...), so
# the staged copy has to be relocated for pkg-config.  PKG_CONFIG_SYSROOT_DIR
# cannot do it here (pkgconf also prefixes glib-2.0's flags with the sysroot,
# and glib is not in the staging tree), nor can --define-variable (it rewrites
# glib-2.0's libdir and includedir too).  So the installed asm-1.pc is copied
# with $DESTDIR put in front of each absolute variable definition; its Name,
# Version, Requires, Libs and Cflags lines are used exactly as installed.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
api=asm-1
here="$src/tests/install"

MESON=${MESON:-meson}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
READELF=${READELF:-readelf}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/asm-install.XXXXXX")
cleanup () {
  if [ "${ASM_KEEP_TMP:-0}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

fails=0
fail () {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
ok () {
  echo "ok: $*"
}

# --- where the build says things go ---------------------------------------
# prefix, libdir, includedir and b_sanitize from the build's own options;
# libdir and includedir may be relative to prefix or absolute.
opts=$("$MESON" introspect "$build" --buildoptions | python3 -c '
import json, os, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
prefix = opts["prefix"]
for k in ("prefix", "libdir", "includedir", "datadir"):
    print(os.path.normpath(os.path.join(prefix, opts[k])))
print(opts.get("b_sanitize", "none"))
')
{
  read -r prefix
  read -r libdir
  read -r includedir
  read -r datadir
  read -r sanitize
} <<<"$opts"
echo "prefix=$prefix libdir=$libdir includedir=$includedir datadir=$datadir"

dest="$tmp/dest"
stage_inc="$dest$includedir"
stage_lib="$dest$libdir"

# --- 1. install ------------------------------------------------------------
if ! "$MESON" install -C "$build" --no-rebuild --destdir "$dest" \
     >"$tmp/install.log" 2>&1; then
  cat "$tmp/install.log"
  echo "FAIL: meson install --destdir failed"
  exit 1
fi
ok "meson install --destdir $dest"

# --- 2. layout ---------------------------------------------------------------
hdir="$stage_inc/$api/asm"
if [ -f "$hdir/asm.h" ]; then
  ok "${includedir}/$api/asm/asm.h"
else
  fail "${includedir}/$api/asm/asm.h is not installed"
fi
for h in "$src"/include/asm/*.h; do
  b=$(basename "$h")
  if [ ! -f "$hdir/$b" ]; then
    fail "public header $b is not installed in ${includedir}/$api/asm/"
  elif ! cmp -s "$h" "$hdir/$b"; then
    fail "installed $b differs from include/asm/$b"
  fi
done
for h in "$hdir"/*; do
  b=$(basename "$h")
  case "$b" in
    asm.h | asm-*.h) ;;
    *) fail "unexpected file ${includedir}/$api/asm/$b" ;;
  esac
done
if [ -e "$stage_inc/asm" ]; then
  fail "something is installed in ${includedir}/asm/, the kernel's namespace:" \
    "$(ls "$stage_inc/asm")"
fi

so="$stage_lib/lib$api.so.0"
if [ -f "$so" ]; then
  ok "${libdir}/lib$api.so.0 -> $(readlink "$so" || echo '(file)')"
  soname=$("$READELF" -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
  if [ "$soname" = "lib$api.so.0" ]; then
    ok "SONAME $soname"
  else
    fail "SONAME of the installed library is '$soname', not lib$api.so.0"
  fi
else
  fail "${libdir}/lib$api.so.0 is not installed"
fi
if [ -e "$stage_lib/lib$api.so" ]; then
  ok "${libdir}/lib$api.so (the link-time name)"
else
  fail "${libdir}/lib$api.so (the development symlink) is not installed"
fi
elfutils_names=$(find "$dest" -name 'libasm.so*' -o -name 'libasm.a' \
                   -o -name 'asm.pc' | sed "s|^$dest||")
[ -z "$elfutils_names" ] \
  || fail "installed a file with an elfutils libasm name: $elfutils_names"

pc="$stage_lib/pkgconfig/$api.pc"
if [ -f "$pc" ]; then
  ok "${libdir}/pkgconfig/$api.pc"
else
  fail "${libdir}/pkgconfig/$api.pc is not installed"
  exit 1
fi
pc_prefix=$(sed -n 's/^prefix=//p' "$pc")
if [ "$pc_prefix" != "$prefix" ]; then
  fail "asm-1.pc says prefix=$pc_prefix, not $prefix"
fi
if grep -q -e "$build" -e "$src" -e "$dest" "$pc"; then
  fail "the installed asm-1.pc names the build, source or staging directory"
fi

# GObject introspection: the GIR beside the system's, the typelib where
# libgirepository looks for it (gi.require_version('Asm', '1.0')).
for f in "$datadir/gir-1.0/Asm-1.0.gir" \
         "$libdir/girepository-1.0/Asm-1.0.typelib"; do
  if [ -s "$dest$f" ]; then
    ok "$f"
  else
    fail "$f is not installed"
  fi
done
if [ -f "$dest$datadir/gir-1.0/Asm-1.0.gir" ] &&
   ! grep -q 'shared-library="libasm-1.so.0"' \
     "$dest$datadir/gir-1.0/Asm-1.0.gir"; then
  fail "Asm-1.0.gir does not name libasm-1.so.0 as its shared library"
fi

# Python through the installed typelib, as a user would (not in sanitizer
# builds: an instrumented library cannot load into python3)
if [ "$sanitize" = none ] && /usr/bin/python3 -c 'import gi' 2>/dev/null; then
  if GI_TYPELIB_PATH="$dest$libdir/girepository-1.0" \
     LD_LIBRARY_PATH="$dest$libdir" /usr/bin/python3 -c "
import gi
gi.require_version('Asm', '1.0')
from gi.repository import Asm
arena = Asm.Arena.new('iova', 0x1000)
arena.add_span(0, 0xfffff)
ok, addr = arena.alloc(0x2000)
assert ok and addr == 0, (ok, addr)
print('python3: Asm', Asm._version, 'from the installed typelib: alloc ->', hex(addr))
"; then
    ok "the installed Asm-1.0.typelib from python3"
  else
    fail "python3 cannot use the installed Asm-1.0.typelib"
  fi
else
  echo "note: python3 with gi is missing (or a sanitizer build): the installed typelib is not tried from python"
fi

# asmd: the daemon, its interface, the system bus policy, the activation
# file and the systemd unit, each where dbus-daemon and systemd look.
for f in "$prefix/bin/asmd" \
         "$datadir/dbus-1/interfaces/org.asm.Fabric1.xml" \
         "$datadir/dbus-1/system.d/org.asm.Fabric1.conf" \
         "$datadir/dbus-1/system-services/org.asm.Fabric1.service" \
         "$prefix/lib/systemd/system/asmd.service"; do
  if [ -s "$dest$f" ]; then
    ok "$f"
  else
    fail "$f is not installed"
  fi
done
if [ -f "$dest$datadir/dbus-1/system-services/org.asm.Fabric1.service" ] &&
   ! grep -q "^Exec=$prefix/bin/asmd --system " \
     "$dest$datadir/dbus-1/system-services/org.asm.Fabric1.service"; then
  fail "the activation file does not start $prefix/bin/asmd --system"
fi

# --- 3. a consumer built from the staged install ----------------------------
mkdir -p "$tmp/pkgconfig"
sed -E "s|^([A-Za-z0-9_.]+)=/|\\1=$dest/|" "$pc" >"$tmp/pkgconfig/$api.pc"
unset PKG_CONFIG_SYSROOT_DIR
export PKG_CONFIG_PATH="$tmp/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

if ! flags=$("$PKG_CONFIG" --print-errors --cflags --libs "$api"); then
  echo "FAIL: pkg-config --cflags --libs $api failed"
  exit 1
fi
echo "\$ pkg-config --cflags --libs $api"
echo "$flags"
case " $flags " in
  *" -I$stage_inc/$api "*) ;;
  *) fail "pkg-config does not point at the staged headers $stage_inc/$api" ;;
esac

san=()
if [ "$sanitize" != none ]; then
  san=("-fsanitize=$sanitize")
fi

# shellcheck disable=SC2086 # $CC and $flags are word lists
if ! $CC -std=gnu11 -Wall -Wextra -Werror "${san[@]}" \
     -o "$tmp/consumer" "$here/consumer.c" $flags >"$tmp/cc.log" 2>&1; then
  cat "$tmp/cc.log"
  echo "FAIL: consumer.c does not build with only pkg-config's flags"
  exit 1
fi
ok "consumer.c builds with only \`pkg-config --cflags --libs $api\`"

# Both <asm/...> headers resolved, each to its owner.
# shellcheck disable=SC2086
deps=$($CC -std=gnu11 -M "$here/consumer.c" $flags | sed 's/\\$//' |
         tr -s ' ' '\n')
ours=$(grep -E '/asm/asm\.h$' <<<"$deps" || true)
kernel=$(grep -E '/asm/types\.h$' <<<"$deps" || true)
if [ "$ours" = "$hdir/asm.h" ]; then
  ok "<asm/asm.h> is $ours"
else
  fail "<asm/asm.h> resolved to '${ours}', not $hdir/asm.h"
fi
case "$kernel" in
  "$dest"* | "")
    fail "<asm/types.h> resolved to '${kernel}', not the kernel's" ;;
  *) ok "<asm/types.h> is $kernel" ;;
esac

resolved=$(LD_LIBRARY_PATH="$stage_lib" ldd "$tmp/consumer" |
             sed -n "s/^[[:space:]]*lib$api\.so\.0 => \([^ ]*\).*/\1/p")
if [ "$(readlink -f "$resolved")" = "$(readlink -f "$so")" ]; then
  ok "the consumer loads $resolved"
else
  fail "the consumer loads lib$api.so.0 from '$resolved', not the staging dir"
fi
if LD_LIBRARY_PATH="$stage_lib" ldd "$tmp/consumer" | grep -q 'libasm\.so'; then
  fail "the consumer links elfutils' libasm.so"
fi

if LD_LIBRARY_PATH="$stage_lib" "$tmp/consumer"; then
  ok "the consumer ran"
else
  fail "the consumer exited $?"
fi

if [ "$fails" -ne 0 ]; then
  echo "$fails check(s) failed"
  exit 1
fi
echo "ok: install layout and a pkg-config consumer work"
