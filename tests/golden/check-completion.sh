#!/usr/bin/env bash
# check-completion.sh ASMCTL COMPLETION_FILE: the bash completion of asmctl
# offers the commands, the subcommands, and options read from the
# program's own --help
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u
asmctl=$1
# shellcheck source=/dev/null
source "$2"
failed=0

# complete WORDS...: COMPREPLY for the last word
complete_words () {
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  _asmctl
}

expect () {
  local want=$1
  shift
  complete_words "$@"
  case " ${COMPREPLY[*]} " in
    *" $want "*) echo "ok: '$*' offers $want" ;;
    *) echo "FAIL: '$*' offers '${COMPREPLY[*]}', not $want"; failed=1 ;;
  esac
}

expect demo "$asmctl" d
expect script "$asmctl" s
expect alloc "$asmctl" iova a
expect assign "$asmctl" pci as
expect --backend= "$asmctl" run --b
expect --output-dir= "$asmctl" demo --o
expect --no-files "$asmctl" demo --no
expect --json "$asmctl" pci assign --j
# a scenario file whose name has a space is offered whole
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/my lab.json" "$tmp/notes.txt"
complete_words "$asmctl" run "$tmp/my"
if [ "${#COMPREPLY[@]}" -eq 1 ] && [ "${COMPREPLY[0]}" = "$tmp/my lab.json" ]; then
  echo "ok: run offers '$tmp/my lab.json' as one word"
else
  echo "FAIL: run offers ${#COMPREPLY[@]} words: ${COMPREPLY[*]}"; failed=1
fi
complete_words "$asmctl" run "$tmp/n"
[ "${#COMPREPLY[@]}" -eq 0 ] || { echo "FAIL: run offers non-JSON ${COMPREPLY[*]}"; failed=1; }
complete_words "$asmctl" zz
[ "${#COMPREPLY[@]}" -eq 0 ] || { echo "FAIL: 'zz' offers ${COMPREPLY[*]}"; failed=1; }
exit $failed
