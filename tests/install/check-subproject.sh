#!/usr/bin/env bash
# check-subproject.sh: build tests/subproject-demo with asm as its subproject
#
# Usage: check-subproject.sh SOURCE_DIR
# Environment: MESON (default meson), ASM_KEEP_TMP=1 keeps the temporary tree.
#
# Copies the demo project into an empty directory, makes subprojects/asm a
# symbolic link to the asm source tree, and runs meson setup (forcing the
# fallback, so an asm-1 installed on the machine is not used instead),
# compile and test there.  This proves that asm's meson.build works from
# inside another project and that meson.override_dependency('asm-1', ...)
# hands the dependency out.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 SOURCE_DIR" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
MESON=${MESON:-meson}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/asm-subproject.XXXXXX")
cleanup () {
  if [ "${ASM_KEEP_TMP:-0}" = 1 ]; then
    echo "kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

proj="$tmp/consumer"
mkdir -p "$proj/subprojects"
cp "$src"/tests/subproject-demo/meson.build "$src"/tests/subproject-demo/*.c \
  "$proj/"
ln -s "$src" "$proj/subprojects/asm"

step () {
  echo "\$ $*"
  if ! "$@" >"$tmp/step.log" 2>&1; then
    cat "$tmp/step.log"
    echo "FAIL: $* failed"
    exit 1
  fi
}

step "$MESON" setup "$proj/build" "$proj" --force-fallback-for=asm-1 \
  --wrap-mode=nodownload
grep -E "^(Message|Subproject|Dependency|Run-time dependency) .*asm" \
  "$tmp/step.log" || true
if ! grep -q "Subproject asm finished" "$tmp/step.log"; then
  cat "$tmp/step.log"
  echo "FAIL: the subproject asm was not configured"
  exit 1
fi
step "$MESON" compile -C "$proj/build"
step "$MESON" test -C "$proj/build" --print-errorlogs
grep -E "^ *[0-9]+/[0-9]+ |^Ok:|^Fail:" "$tmp/step.log" || true
echo "ok: asm builds and works as the Meson subproject 'asm' (dependency asm-1)"
