#!/usr/bin/env bash
# bench-assign.sh: `asmctl pci assign` against libvirt on the same domains
#
# Usage: bench-assign.sh [ASMCTL] [RUNS]
#
# Two domains: pc with 2,000 virtio disks and 67 pci-bridges without
# addresses (libvirt refuses that many disks without bridges given: its dry
# run cannot grow for the bridges it adds itself), and q35 with 200 PCIe
# endpoints (libvirt adds 200 pcie-root-ports).  For each, the median
# wall time of RUNS (default 5) runs of `asmctl pci assign` and of
# `virsh define` + `dumpxml` (+ `undefine`) with libvirt's embedded qemu
# driver, and their ratio.  libvirt runs as an unprivileged user (as root:
# the user asmtest, created when missing); its first call, which probes
# QEMU, is not timed.  Without libvirt only asm's times are printed.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
asmctl=${1:-$here/../../build/examples/asmctl/asmctl}
runs=${2:-5}
tmp=$(mktemp -d /tmp/asm-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

gen () { # gen NAME MACHINE KIND COUNT
  local name=$1 machine=$2 kind=$3 n=$4
  python3 - "$name" "$machine" "$kind" "$n" > "$tmp/$name.xml" <<'PY'
import sys
name, machine, kind, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def vd(i):
    s = ''
    i += 1
    while i > 0:
        i -= 1
        s = chr(ord('a') + i % 26) + s
        i //= 26
    return 'vd' + s
print("<domain type='qemu'>")
print("  <name>%s</name>" % name)
print("  <memory unit='MiB'>256</memory>")
print("  <os>\n    <type arch='x86_64' machine='%s'>hvm</type>\n  </os>" % machine)
print("  <devices>")
if kind == 'disks':
    # libvirt's dry run cannot grow for the bridges it adds itself (it
    # refuses pc with more than a few hundred disks and none): give them
    for i in range(1, (n + 29) // 30 + 1):
        print("    <controller type='pci' index='%d' model='pci-bridge'/>" % i)
for i in range(n):
    if kind == 'disks' or i % 2 == 0:
        print("    <disk type='file' device='disk'>\n"
              "      <source file='/var/lib/asm/%s.img'/>\n"
              "      <target dev='%s' bus='virtio'/>\n    </disk>" % (vd(i), vd(i)))
    else:
        print("    <interface type='user'>\n      <model type='%s'/>\n"
              "    </interface>" % ('virtio' if i % 4 == 1 else 'e1000e'))
print("  </devices>\n</domain>")
PY
}

gen bench-pc-2000 pc disks 2000
gen bench-q35-200 q35 endpoints 200

now () { date +%s.%N; }
median () { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

virsh_cmd=()
have_libvirt=1
if ! command -v virsh >/dev/null || ! command -v qemu-system-x86_64 >/dev/null; then
  echo "bench-assign: libvirt (virsh, qemu-system-x86_64) is not installed:" \
       "only asm is timed" >&2
  have_libvirt=0
else
  env_cmd=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$tmp"
           XDG_CONFIG_HOME="$tmp/config" XDG_CACHE_HOME="$tmp/cache"
           XDG_RUNTIME_DIR="$tmp/run" XDG_DATA_HOME="$tmp/data")
  if [ "$(id -u)" = 0 ]; then
    id asmtest >/dev/null 2>&1 || useradd -m asmtest
    chown asmtest "$tmp"
    virsh_cmd=(runuser -u asmtest -- "${env_cmd[@]}" virsh -q
               -c "qemu:///embed?root=$tmp/root")
  else
    virsh_cmd=("${env_cmd[@]}" virsh -q -c "qemu:///embed?root=$tmp/root")
  fi
  chmod 644 "$tmp"/*.xml
  if ! "${virsh_cmd[@]}" uri >/dev/null 2>&1; then
    echo "bench-assign: libvirt's embedded driver does not start: only asm" \
         "is timed" >&2
    have_libvirt=0
  fi
fi

printf '%-16s %14s %14s %12s\n' domain "asm (s)" "libvirt (s)" "libvirt/asm"
for name in bench-pc-2000 bench-q35-200; do
  xml=$tmp/$name.xml
  asm_times=()
  for _ in $(seq "$runs"); do
    t0=$(now)
    "$asmctl" pci assign "$xml" -o "$tmp/$name.asm.xml"
    t1=$(now)
    asm_times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
  done
  asm=$(printf '%s\n' "${asm_times[@]}" | median)
  lv=-
  ratio=-
  if [ "$have_libvirt" = 1 ]; then
    lv_times=()
    for _ in $(seq "$runs"); do
      t0=$(now)
      "${virsh_cmd[@]}" "define $xml; dumpxml $name" > "$tmp/$name.lv.xml"
      t1=$(now)
      "${virsh_cmd[@]}" "undefine $name" > /dev/null
      lv_times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')")
    done
    lv=$(printf '%s\n' "${lv_times[@]}" | median)
    ratio=$(awk -v a="$asm" -v l="$lv" 'BEGIN { print l / a }')
    # the same addresses, or the comparison is meaningless
    if ! python3 "$here/conformance.py" normalize "$tmp/$name.lv.xml" \
           > "$tmp/$name.lv.norm" ||
       ! python3 "$here/conformance.py" normalize "$tmp/$name.asm.xml" \
           > "$tmp/$name.asm.norm" ||
       ! cmp -s "$tmp/$name.lv.norm" "$tmp/$name.asm.norm"; then
      echo "bench-assign: $name: asm and libvirt disagree on addresses" >&2
      exit 1
    fi
  fi
  printf '%-16s %14.4f %14s %12s\n' "$name" "$asm" \
    "$( [ "$lv" = - ] && echo - || printf '%.4f' "$lv")" \
    "$( [ "$ratio" = - ] && echo - || printf '%.1fx' "$ratio")"
done
