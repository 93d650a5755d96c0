#!/bin/bash
# run-bench-asmd.sh: asmd under load, killed, restarted, none lost
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs inside a bus of its own (dbus-run-session, as meson does with
# bus.conf):
#
#   1. starts asmd ($ASMD) on an empty state directory with the load fabric
#      (load-fabric.json next to this script, or $BENCH_ASMD_FABRIC) and
#      waits until it serves;
#   2. runs bench-asmd ($BENCH_ASMD, or the first argument) with the other
#      arguments (--clients N --ops N --seed S) and --record FILE: the
#      clients' load, the figures, and the check that the daemon's state is
#      exactly what their successful calls imply;
#   3. kills the daemon with SIGKILL, starts it again on the same state
#      directory (no fabric file: it must come from the snapshot and the
#      journal), and runs `bench-asmd --verify-only --record FILE`: the
#      same state, the same Save JSON, Check clean;
#   4. stops the daemon with SIGTERM, which must exit 0.
#
# Exit status 0 when every step passed, 1 otherwise (the daemon's log is
# printed then).  Usage:
#   dbus-run-session -- tests/dbus/run-bench-asmd.sh [BENCH] [--clients N]
#       [--ops N] [--seed S]
set -u

here=$(cd "$(dirname "$0")" && pwd)
bench=${BENCH_ASMD:-}
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  bench=$1
  shift
fi
asmd=${ASMD:-}
fabric=${BENCH_ASMD_FABRIC:-$here/load-fabric.json}
if [ -z "$asmd" ] || [ -z "$bench" ]; then
  echo "run-bench-asmd.sh: set ASMD to asmd and BENCH_ASMD (or give the" \
       "first argument) to bench-asmd" >&2
  exit 1
fi
if [ -z "${DBUS_SESSION_BUS_ADDRESS:-}" ]; then
  echo "run-bench-asmd.sh: no session bus; run under dbus-run-session" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-asmd.XXXXXX")
pid=
cleanup () {
  if [ -n "$pid" ]; then
    kill -9 "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

fail () {
  echo "run-bench-asmd.sh: FAILED: $*" >&2
  for log in "$tmp"/asmd-*.log; do
    [ -f "$log" ] || continue
    echo "--- $(basename "$log") (last 20 lines)" >&2
    tail -n 20 "$log" >&2
  done
  exit 1
}

# start_asmd LOG [ARGS...]: starts asmd and waits until it has the name
# (it says "serving" once it has).
start_asmd () {
  local log=$1 i
  shift
  : >"$log"
  "$asmd" --session --state-dir "$tmp/state" "$@" >"$log" 2>&1 &
  pid=$!
  for ((i = 0; i < 600; i++)); do
    if grep -q "^asmd: serving" "$log"; then
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      echo "asmd exited with status $? before serving" >&2
      pid=
      return 1
    fi
    sleep 0.05
  done
  echo "asmd does not serve after 30 s" >&2
  return 1
}

echo "# asmd: $asmd"
echo "# state directory: $tmp/state, fabric: $fabric"
start_asmd "$tmp/asmd-1.log" --fabric "$fabric" || fail "asmd did not start"

"$bench" --record "$tmp/record" "$@"
rc=$?
[ $rc -eq 0 ] || fail "bench-asmd exited with status $rc"

kill -9 "$pid"
# (bash would report the "Killed" job on stderr)
{ wait "$pid"; } 2>/dev/null
pid=
echo "# asmd killed with SIGKILL; restarting it on the same state directory"

start_asmd "$tmp/asmd-2.log" || fail "asmd did not restart after SIGKILL"
"$bench" --verify-only --record "$tmp/record"
rc=$?
[ $rc -eq 0 ] || fail "the state after the restart is not the one recorded"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ $rc -eq 0 ] || fail "asmd exited with status $rc on SIGTERM"
echo "# run-bench-asmd.sh: none lost, also across kill -9 and a restart"
