#!/usr/bin/env bash
# check-golden.sh EXPECTED EXIT_CODE COMMAND [ARGS...]
#
# Runs COMMAND, and fails unless its exit status is EXIT_CODE and its
# standard output equals the file EXPECTED byte for byte (a diff is shown).
# With ASM_UPDATE_GOLDEN=1, rewrites EXPECTED instead.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
expected=$1
want_rc=$2
shift 2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out"
rc=$?
if [ "${ASM_UPDATE_GOLDEN:-0}" = 1 ]; then
  cp "$out" "$expected"
  echo "updated $expected"
  exit 0
fi
if [ "$rc" -ne "$want_rc" ]; then
  echo "FAIL: exit status $rc, expected $want_rc: $*"
  exit 1
fi
if ! diff -u "$expected" "$out"; then
  echo "FAIL: output differs from $expected"
  exit 1
fi
echo "ok: $* matches $(basename "$expected")"
