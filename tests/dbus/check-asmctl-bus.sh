#!/usr/bin/env bash
# check-asmctl-bus.sh: `asmctl --bus session fabric ...` against a running
# asmd, through the session of examples/asmctl/scenarios/lab.json
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs under dbus-run-session --config-file tests/dbus/bus.conf (a bus of
# its own), with ASMD, ASMCTL and ASMD_TEST_DATA (this directory) in the
# environment.  The daemon serves lab.json's fabric without its steps;
# asmctl then takes the steps one by one over the bus, and every output is
# compared with the one expected: where `asmctl run lab.json` prints the
# same thing (translations, the final switch table), with its output.  Any
# difference, and any unexpected exit status, fails the test.
set -euo pipefail

: "${ASMD:?}" "${ASMCTL:?}" "${ASMD_TEST_DATA:?}"
src=$ASMD_TEST_DATA/../..
lab=$src/examples/asmctl/scenarios/lab.json
tmp=$(mktemp -d)
asmd_pid=
asmd2_pid=
cleanup () {
  for pid in $asmd_pid $asmd2_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

n=0
ok () { n=$((n + 1)); echo "ok $n - $*"; }
fail () {
  echo "FAIL: $*" >&2
  for f in out err; do
    [ -s "$tmp/$f" ] && { echo "--- $f:" >&2; cat "$tmp/$f" >&2; }
  done
  [ -s "$tmp/asmd.log" ] && { echo "--- asmd:" >&2; cat "$tmp/asmd.log" >&2; }
  exit 1
}

fabric () { "$ASMCTL" --bus session fabric "$@"; }

# rc WANT CMD...: runs CMD with its stdout in $tmp/out and its stderr in
# $tmp/err; its exit status must be WANT
rc () {
  local want=$1 got=0
  shift
  "$@" >"$tmp/out" 2>"$tmp/err" || got=$?
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, not $want"
}

# same WHAT FILE: FILE equals standard input
same () {
  local what=$1 file=$2
  cat >"$tmp/want"
  diff -u "$tmp/want" "$file" >&2 || fail "$what: output differs (above)"
}

# json FILE PYTHON: FILE is one JSON document, d, for which the Python
# expression holds
json () {
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
if not eval("(" + sys.argv[2] + ")"):
    sys.exit("does not hold: %s\n%s" % (sys.argv[2], json.dumps(d, indent=1)))' \
    "$1" "$2" || fail "JSON check $2"
}

# ------------------------------------------------------------------ #
# A bad command line is exit 2, daemon or not; nothing is running yet.

rc 2 fabric
grep -q '^Usage: asmctl --bus' "$tmp/err" || fail "no usage for a bare 'fabric'"
rc 2 fabric no-such-command
grep -q "unknown command 'no-such-command'" "$tmp/err" || fail "unknown command"
rc 2 fabric request vm1
grep -q 'takes WORKLOAD SIZE, not 1 argument' "$tmp/err" || fail "word count"
rc 2 fabric request vm1 2Q
grep -q "'2Q' is not a number" "$tmp/err" || fail "bad size"
rc 2 fabric request vm1 2M --max-latency-ns 4294967296
grep -q -- '--max-latency-ns 4294967296 is out of range 0..4294967295' \
  "$tmp/err" || fail "latency out of range"
rc 2 fabric map p1 gpu0
grep -q "partition 'p1' is not an id" "$tmp/err" || fail "partition name"
rc 2 fabric watch --count 0
grep -q -- '--count 0 is out of range' "$tmp/err" || fail "count 0"
rc 2 fabric rebalance inf
rc 2 fabric add-workload $'\xff'
rc 2 "$ASMCTL" --bus nowhere fabric status
grep -q "'nowhere' is not session, system or a D-Bus address" "$tmp/err" ||
  fail "bad bus"
rc 2 "$ASMCTL" fabric status
grep -q 'which bus?' "$tmp/err" || fail "no bus"
ok "a bad command line is exit 2 with a message"

# help needs no daemon, and lists every command
rc 0 fabric --help
cp "$tmp/out" "$tmp/help"
for c in status request map unmap migrate grow shrink release create-vf \
         destroy-vf transfer-vf remove-device drain remove-switch \
         add-workload end-workload migrate-workload translate rebalance \
         check save watch; do
  grep -q "^  $c " "$tmp/help" || fail "fabric --help does not list $c"
  rc 0 fabric "$c" --help
  grep -q "^  asmctl --bus BUS fabric $c " "$tmp/out" ||
    fail "$c --help has no usage line"
done
rc 0 "$ASMCTL" --help
grep -q 'asmctl --bus session fabric' "$tmp/out" ||
  fail "asmctl --help does not point at fabric --help"
ok "fabric --help, every command's --help"

# no daemon: exit 1, saying so
rc 1 fabric status
same "no daemon" "$tmp/err" <<'EOF'
asmctl: no asmd serves org.asm.Fabric1 on the session bus (is it running? asmd --session --state-dir DIR --fabric FILE starts one)
EOF
ok "no daemon: exit 1"

# ------------------------------------------------------------------ #
# The daemon, on lab.json's fabric without its steps

python3 -c 'import json, sys
s = json.load(open(sys.argv[1]))
del s["steps"]
json.dump(s, open(sys.argv[2], "w"))' "$lab" "$tmp/fabric.json"
"$ASMD" --session --state-dir "$tmp/state" --fabric "$tmp/fabric.json" \
  2>"$tmp/asmd.log" &
asmd_pid=$!
for _ in $(seq 100); do
  fabric check >/dev/null 2>&1 && break
  kill -0 "$asmd_pid" 2>/dev/null || fail "asmd died"
  sleep 0.1
done
rc 0 fabric check
same "check" "$tmp/out" <<'EOF'
the model is consistent and the hardware matches it
EOF
ok "asmd serves the lab fabric"

rc 0 fabric status
same "status of a fresh fabric" "$tmp/out" <<'EOF'
fabric 'lab' (org.asm.Fabric1 on the session bus): backend sim, granule 2 MiB, 0 operations since asmd started

switches:
   switch latency  bw used  of MB/s   windows     free table  window ranges
   sw-a     300ns        0    64000       0 B      0 B  0/16  -
   sw-b     250ns        0    32000       0 B      0 B  0/16  -
   sw-c     200ns        0    16000     1 GiB    1 GiB  0/16  0x10000000000-0x1003fffffff

devices:
   device     kind     switch port       bar  mapped
   nic0       pf       sw-a      0     1 MiB  -
   nic1       pf       sw-b      0     1 MiB  -
   gpu0       endpoint sw-a      1   256 MiB  -

workloads:
   workload     id  partitions
   vm1           7  -
   vm2           8  -

partitions:
   partition workload   switch      size  virtual          physical       devices generation
EOF
rc 0 fabric status --json
json "$tmp/out" 'd["command"] == "status" and d["name"] == "lab" and
  d["backend"] == "sim" and d["operations"] == 0 and
  [s["name"] for s in d["switches"]] == ["sw-a", "sw-b", "sw-c"] and
  d["switches"][2]["window_ranges"] == [["0x10000000000", "0x1003fffffff"]] and
  d["switches"][0]["bandwidth"] == "0xfa00" and d["partitions"] == []'
ok "status, as text and as JSON"

# the steps of lab.json, one command each
rc 0 fabric request vm1 512M --bandwidth 20000 --prefer sw-a
same "request" "$tmp/out" <<'EOF'
partition 9 placed: 512 MiB for vm1 on sw-a, virtual 0x10000000000-0x1001fffffff, physical 0x0 (generation 0, 0 devices)
EOF
rc 0 fabric map 9 gpu0
same "map" "$tmp/out" <<'EOF'
gpu0 mapped into partition 9 at offset 0x0 (virtual 0x10000000000)
EOF
rc 0 fabric create-vf nic0 --json
json "$tmp/out" 'd == {"command": "create-vf", "pf": 4, "vf": 10,
                       "name": "nic0-vf0"}'
rc 0 fabric request vm2 64M --bandwidth 4000 --min-bandwidth 40000 --json
json "$tmp/out" 'd["command"] == "request" and d["partition"] == 11 and
  d["workload"] == 8 and d["switch"] == 1 and d["size"] == "0x4000000" and
  d["virt_first"] == "0x10000000000" and d["bandwidth_demand"] == "0xfa0"'
rc 0 fabric map 11 nic0-vf0
ok "request, map, create-vf, request --json"

# translations print as asmctl run prints them
"$ASMCTL" run "$lab" >"$tmp/run.out" 2>&1 || fail "asmctl run $lab"
grep '^   virtual ' "$tmp/run.out" | sed 's/^   //' >"$tmp/run-translations"
[ "$(wc -l <"$tmp/run-translations")" -eq 3 ] ||
  fail "asmctl run printed no 3 translations"
rc 0 fabric translate vm1 0x10000000040
sed -n 1p "$tmp/run-translations" | same "translate before" "$tmp/out"

for s in "0 400M" "1 520M" "2 640M" "3 760M"; do
  # shellcheck disable=SC2086
  rc 0 fabric usage vm1 $s
done
rc 0 fabric predict vm1 4
same "predict" "$tmp/out" <<'EOF'
predicted use of vm1 at 4: 1.2 GiB (0x4d800000 bytes)
EOF
rc 0 fabric rebalance 4
same "rebalance" "$tmp/out" <<'EOF'
2 examined, 0 grown in place, 0 shrunk, 1 moved, 0 failed
EOF
ok "translate, usage, predict, rebalance"

# a watch, text and JSON, sees the events of a migration made meanwhile
watch_started () {
  for _ in $(seq 100); do
    grep -q '^asmctl: watching fabric' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "the watch did not start: $(cat "$1")"
}
timeout 30 "$ASMCTL" --bus session fabric watch --count 3 \
  >"$tmp/watch.out" 2>"$tmp/watch.err" &
watch_pid=$!
timeout 30 "$ASMCTL" --bus session fabric watch --count 3 --json \
  >"$tmp/watch.json" 2>"$tmp/watch-json.err" &
watch_json_pid=$!
watch_started "$tmp/watch.err"
watch_started "$tmp/watch-json.err"
rc 0 fabric migrate 9 sw-b
same "migrate" "$tmp/out" <<'EOF'
partition 9 migrated (virtual addresses unchanged): 1.2 GiB for vm1 on sw-b, virtual 0x10000000000-0x1004d7fffff, physical 0x8d800000 (generation 3, 1 device)
EOF
wait "$watch_pid" || fail "watch --count 3 exited $?"
wait "$watch_json_pid" || fail "watch --count 3 --json exited $?"
same "watch" "$tmp/watch.out" <<'EOF'
WindowGrown: switch 'sw-b' grew a window 0x8d800000-0xdaffffff
WindowShrunk: switch 'sw-a' gave window 0x40000000-0x8d7fffff back
PartitionMigrated: partition 9 migrated from 'sw-a' to 'sw-b' (physical 0x8d800000, virtual 0x10000000000 unchanged)
EOF
[ "$(wc -l <"$tmp/watch.json")" -eq 3 ] || fail "watch --json: not 3 lines"
python3 -c 'import json, sys
e = [json.loads(line) for line in open(sys.argv[1])]
assert [x["signal"] for x in e] == ["WindowGrown", "WindowShrunk",
                                    "PartitionMigrated"], e
m = e[2]
assert (m["switch"], m["old_switch"], m["partition"]) == (2, 1, 9), m
assert (m["first"], m["last"]) == ("0x8d800000", "0xdaffffff"), m
assert m["message"].startswith("partition 9 migrated from"), m' \
  "$tmp/watch.json" || fail "watch --json lines"
ok "migrate; watch --count 3 and watch --json catch its three events"

rc 0 fabric translate vm1 0x10000000040
sed -n 2p "$tmp/run-translations" | same "translate after migrate" "$tmp/out"
rc 0 fabric transfer-vf nic0-vf0 nic1
same "transfer-vf" "$tmp/out" <<'EOF'
VF nic0-vf0 transferred to nic1, its virtual addresses unchanged: nic1-vf0 (device 12)
EOF
rc 0 fabric translate vm2 0x10000000010
sed -n 3p "$tmp/run-translations" | same "translate after transfer" "$tmp/out"
rc 0 fabric translate vm1 0x10000000040 --json
json "$tmp/out" 'd == {"command": "translate", "workload": 7,
  "virt": "0x10000000040", "switch": 2, "partition": 9,
  "physical": "0x8d800040", "device": 6, "device_offset": "0x40",
  "generation": 3, "held": False}'
ok "translations equal asmctl run's"

# refusals: the daemon's message and code, exit 1, nothing changed
rc 0 fabric save
cp "$tmp/out" "$tmp/before.json"
rc 1 fabric migrate 9 sw-c
same "refused migrate" "$tmp/err" <<'EOF'
asmctl: switch 'sw-c' cannot take partition 9: bandwidth, latency or translation-table room (no-space)
EOF
[ ! -s "$tmp/out" ] || fail "a refused migrate printed on stdout"
rc 1 fabric migrate 9 sw-c --json
json "$tmp/out" 'd["command"] == "migrate" and
  d["error"]["code"] == "no-space" and
  d["error"]["dbus_error"] == "org.asm.Fabric1.Error.NoSpace" and
  d["error"]["message"].startswith("switch ")'
rc 1 fabric migrate 9 sw-z
same "unknown switch" "$tmp/err" <<'EOF'
asmctl: no switch is named 'sw-z' (not-found)
EOF
rc 1 fabric migrate 4294967296 sw-a
same "partition out of range" "$tmp/err" <<'EOF'
asmctl: partition 4294967296 does not exist (ids are below 2^32) (not-found)
EOF
rc 1 fabric request vm2 2G --max-latency-ns 200
grep -q '^asmctl: no switch can hold 0x80000000 bytes: .* (no-space)$' \
  "$tmp/err" || fail "request refused"
rc 1 fabric request vm1 2M --align 3
same "bad alignment" "$tmp/err" <<'EOF'
asmctl: partition alignment 0x3 is not a power of two (invalid)
EOF
rc 0 fabric save
diff -u "$tmp/before.json" "$tmp/out" >&2 || fail "a refusal changed the fabric"
ok "refusals: asmctl: MESSAGE (CODE), exit 1, the fabric unchanged"

rc 0 fabric release 11
same "release" "$tmp/out" <<'EOF'
partition 11 released
EOF
rc 0 fabric check
# the final switch table is asmctl run's (its failed steps changed nothing)
sed -n '/^final state:/,$p' "$tmp/run.out" | tail -n +2 >"$tmp/run-final"
rc 0 fabric status
sed -n '/^switches:/,/^$/p' "$tmp/out" | sed '1d;$d' |
  same "final switches" "$tmp/run-final"
grep -q "^fabric 'lab' .* 13 operations since asmd started$" "$tmp/out" ||
  fail "operations count: $(head -1 "$tmp/out")"
ok "release; the final switch table equals asmctl run's"

# another bus name: no daemon there
rc 1 "$ASMCTL" --bus session --dest org.asm.Nobody fabric status
grep -q '^asmctl: no asmd serves org.asm.Nobody on the session bus' \
  "$tmp/err" || fail "--dest before fabric"
rc 1 fabric status --dest=org.asm.Nobody
grep -q '^asmctl: no asmd serves org.asm.Nobody on the session bus' \
  "$tmp/err" || fail "--dest= after the command"
rc 0 "$ASMCTL" --bus=session --dest=org.asm.Fabric1 fabric check
ok "--dest names another daemon"

# the bus by its address, as --bus ADDRESS and --bus=ADDRESS
rc 0 "$ASMCTL" --bus "$DBUS_SESSION_BUS_ADDRESS" fabric check
rc 0 "$ASMCTL" --bus="$DBUS_SESSION_BUS_ADDRESS" fabric translate vm1 \
  0x10000000040
sed -n 2p "$tmp/run-translations" | same "translate at the address" "$tmp/out"
ok "--bus ADDRESS"

# A second daemon under another name, whose writers are root's group:
# --dest reaches it, and user nobody may read it but not change it.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null &&
   id nobody >/dev/null 2>&1; then
  "$ASMD" --session --state-dir "$tmp/state2" --fabric "$tmp/fabric.json" \
    --bus-name org.asm.Test.Second --group root 2>"$tmp/asmd2.log" &
  asmd2_pid=$!
  for _ in $(seq 100); do
    "$ASMCTL" --bus session --dest org.asm.Test.Second fabric check \
      >/dev/null 2>&1 && break
    kill -0 "$asmd2_pid" 2>/dev/null || fail "the second asmd died"
    sleep 0.1
  done
  nobody=(setpriv --reuid="$(id -u nobody)" --regid="$(id -g nobody)"
          --clear-groups)
  rc 0 "${nobody[@]}" "$ASMCTL" --bus session --dest org.asm.Test.Second \
    fabric status --json
  json "$tmp/out" 'd["operations"] == 0 and d["partitions"] == []'
  rc 1 "${nobody[@]}" "$ASMCTL" --bus session --dest org.asm.Test.Second \
    fabric request vm1 2M
  grep -q "^asmctl: .* may read this fabric but not change it: .* (access-denied)$" \
    "$tmp/err" || fail "nobody's request"
  kill "$asmd2_pid"
  wait "$asmd2_pid" || fail "the second asmd exited $? on SIGTERM"
  asmd2_pid=
  ok "--dest reaches a second daemon; nobody reads it, is refused a change"
else
  ok "# SKIP not root, or no setpriv or user nobody: no access check"
fi

# the bash completion offers the fabric commands
# shellcheck source=/dev/null
source "$src/examples/asmctl/asmctl.bash-completion"
complete_words () {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  # compopt fails outside a real completion; errexit is off in here
  _asmctl || true
}
complete_words "$ASMCTL" --bus session fabric mi
[ "${COMPREPLY[*]}" = "migrate migrate-workload" ] ||
  fail "completion of 'fabric mi': ${COMPREPLY[*]}"
complete_words "$ASMCTL" --bus session fabric request --pr
[ "${COMPREPLY[*]}" = "--prefer=" ] ||
  fail "completion of 'request --pr': ${COMPREPLY[*]}"
ok "bash completion of fabric commands and their options"

# the daemon stops: a watch ends with exit 1, later calls say no daemon
timeout 30 "$ASMCTL" --bus session fabric watch \
  >"$tmp/watch.out" 2>"$tmp/watch.err" &
watch_pid=$!
watch_started "$tmp/watch.err"
kill "$asmd_pid"
wait "$asmd_pid" || fail "asmd exited $? on SIGTERM"
asmd_pid=
got=0
wait "$watch_pid" || got=$?
[ "$got" -eq 1 ] || fail "watch exited $got when asmd left, not 1"
grep -q '^asmctl: asmd left the session bus' "$tmp/watch.err" ||
  fail "watch: $(cat "$tmp/watch.err")"
rc 1 fabric status
grep -q '^asmctl: no asmd serves org.asm.Fabric1 on the session bus' \
  "$tmp/err" || fail "no daemon after stop"
ok "asmd stopped: watch exits 1, status says no asmd serves"

echo "1..$n"
