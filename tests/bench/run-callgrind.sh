#!/bin/sh
# run-callgrind.sh: instructions per W1 churn step (one free + one alloc) at
# N = 10^3 and N = 10^5 live allocations, counted by callgrind, and their
# ratio (the target is <= 2x: a step should cost O(log N)); then instructions
# per W3 clone for templates of 10, 1000 and 100000 holes (target: flat).
#
# Usage: tests/bench/run-callgrind.sh [BENCH] [FIT...]
#   BENCH  the bench-arena executable (default build/tests/bench/bench-arena)
#   FIT    lowest and/or highest (default: both)
# Environment: STEPS (default 100000) timed steps per run.
#
# The set-up (fill, warm-up, template) runs uninstrumented; only
# bench_w1_churn_measured() or bench_w3_clone_measured() is counted
# (CALLGRIND_START/STOP_INSTRUMENTATION when the program was built with
# <valgrind/callgrind.h>, and --toggle-collect in any case).
set -eu

bench=${1:-build/tests/bench/bench-arena}
[ $# -gt 0 ] && shift
fits=${*:-lowest highest}
steps=${STEPS:-100000}

if ! command -v valgrind >/dev/null 2>&1; then
  echo "run-callgrind.sh: valgrind is not installed" >&2
  exit 77
fi
if [ ! -x "$bench" ]; then
  echo "run-callgrind.sh: $bench is not an executable (build first)" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

instr=
if [ "$("$bench" --has-callgrind-requests)" = yes ]; then
  instr=--instr-atstart=no
fi

# count FUNCTION LABEL ARGS...: runs the bench under callgrind counting only
# FUNCTION, and sets $irop to the instructions per op it reports
count () {
  fn=$1 label=$2
  shift 2
  out="$tmp/callgrind.out"
  rm -f "$out"
  valgrind --tool=callgrind $instr --toggle-collect="$fn*" \
    --callgrind-out-file="$out" "$bench" "$@" \
    >"$tmp/stdout" 2>"$tmp/stderr" || {
    cat "$tmp/stderr" >&2
    exit 1
  }
  ops=$(sed -n 's/^callgrind:.* ops=\([0-9][0-9]*\).*/\1/p' "$tmp/stdout")
  ir=$(awk '/^totals:/ { print $2; found = 1; exit }
            /^summary:/ { s = $2 }
            END { if (!found && s != "") print s }' "$out")
  if [ -z "$ops" ] || [ -z "$ir" ]; then
    echo "run-callgrind.sh: could not read ops or Ir for $label" >&2
    exit 1
  fi
  irop=$(awk -v ir="$ir" -v ops="$ops" 'BEGIN { printf "%.1f", ir / ops }')
  printf '  %-22s ops=%-7s Ir=%-12s Ir/op=%s\n' "$label" "$ops" "$ir" "$irop"
}

echo "W1 churn: instructions per step (one free + one alloc), $steps steps" \
  "after fill and warm-up"
summary=
for fit in $fits; do
  count bench_w1_churn_measured "$fit N=1000" \
    --workload W1 --callgrind --n 1000 --fit "$fit" --steps "$steps"
  small=$irop
  count bench_w1_churn_measured "$fit N=100000" \
    --workload W1 --callgrind --n 100000 --fit "$fit" --steps "$steps"
  large=$irop
  ratio=$(awk -v a="$small" -v b="$large" 'BEGIN { printf "%.2f", b / a }')
  verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 2.0) ? "within" : "ABOVE" }')
  summary="$summary$(printf '  W1 %-8s Ir/op(N=100000) / Ir/op(N=1000) = %sx (target <= 2x: %s)' \
    "$fit" "$ratio" "$verdict")
"
done

echo "W3 clone: instructions per asm_arena_clone() against template size"
lo= hi=
for holes in 10 1000 100000; do
  count bench_w3_clone_measured "$holes holes" \
    --workload W3 --callgrind --holes "$holes" --clones 10000
  lo=$(awk -v a="${lo:-$irop}" -v b="$irop" 'BEGIN { print (b < a) ? b : a }')
  hi=$(awk -v a="${hi:-$irop}" -v b="$irop" 'BEGIN { print (b > a) ? b : a }')
done
summary="$summary$(printf '  W3 Ir/clone largest / smallest over 10..100000 holes = %sx (target: flat)' \
  "$(awk -v a="$lo" -v b="$hi" 'BEGIN { printf "%.2f", b / a }')")
"
printf '%s' "$summary"
