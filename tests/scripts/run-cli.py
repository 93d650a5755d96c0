#!/usr/bin/env python3
# run-cli.py: run one asmctl command line and check what it did
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
#   run-cli.py [--stdout FILE | --stdout-json FILE | --no-stdout]
#              [--stdout-has TEXT]... [--exit N] [--stderr TEXT]...
#              [--stdin FILE] -- COMMAND...
#
# --stdout FILE       stdout equals FILE byte for byte (a diff otherwise)
# --stdout-json FILE  stdout is JSON that matches FILE's: objects match when
#                     every key of FILE's is there with a matching value
#                     (so FILE leaves out what may vary: paths, messages),
#                     arrays when they have the same length and match item
#                     by item, other values when equal
# --no-stdout         stdout is empty
# --stdout-has TEXT   stdout contains TEXT (repeatable)
# --exit N            the exit code is N (default 0)
# --stderr TEXT       stderr contains TEXT (repeatable); without any,
#                     stderr is not checked
# --stdin FILE        feed FILE on standard input
#
# The command runs in a fresh temporary directory (scripts that save
# files leave nothing behind and cannot collide); arguments that name
# existing files are made absolute first.

import argparse
import difflib
import json
import os
import subprocess
import sys
import tempfile


def matches(want, got):
    if isinstance(want, dict):
        return isinstance(got, dict) and all(
            k in got and matches(v, got[k]) for k, v in want.items())
    if isinstance(want, list):
        return (isinstance(got, list) and len(want) == len(got)
                and all(matches(w, g) for w, g in zip(want, got)))
    return want == got


def main():
    p = argparse.ArgumentParser()
    g = p.add_mutually_exclusive_group()
    g.add_argument('--stdout')
    g.add_argument('--stdout-json')
    g.add_argument('--no-stdout', action='store_true')
    p.add_argument('--stdout-has', action='append', default=[])
    p.add_argument('--exit', type=int, default=0)
    p.add_argument('--stderr', action='append', default=[])
    p.add_argument('--stdin')
    p.add_argument('command', nargs='+')
    a = p.parse_args()

    command = [os.path.abspath(x) if os.path.exists(x) else x
               for x in a.command]
    stdin = open(a.stdin, 'rb') if a.stdin else subprocess.DEVNULL
    with tempfile.TemporaryDirectory(prefix='asmctl-test-') as tmp:
        r = subprocess.run(command, stdin=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, cwd=tmp)
    out, err = r.stdout, r.stderr.decode('utf-8', 'replace')

    failures = []
    if r.returncode != a.exit:
        failures.append('exit code %d, expected %d' % (r.returncode, a.exit))
    if a.stdout is not None:
        with open(a.stdout, 'rb') as f:
            want = f.read()
        if out != want:
            diff = difflib.unified_diff(
                want.decode('utf-8', 'replace').splitlines(True),
                out.decode('utf-8', 'replace').splitlines(True),
                a.stdout, 'stdout')
            failures.append('stdout differs from %s:\n%s'
                            % (a.stdout, ''.join(diff)))
    elif a.stdout_json is not None:
        with open(a.stdout_json) as f:
            want = json.load(f)
        try:
            got = json.loads(out.decode('utf-8'))
        except ValueError as e:
            failures.append('stdout is not JSON (%s):\n%s'
                            % (e, out.decode('utf-8', 'replace')))
        else:
            if not matches(want, got):
                failures.append('stdout JSON differs from %s:\n%s'
                                % (a.stdout_json,
                                   json.dumps(got, indent=2, sort_keys=True)))
    elif a.no_stdout and out:
        failures.append('stdout is not empty:\n'
                        + out.decode('utf-8', 'replace'))
    for text in a.stdout_has:
        if text.encode('utf-8') not in out:
            failures.append('stdout lacks %r' % text)
    for text in a.stderr:
        if text not in err:
            failures.append('stderr lacks %r' % text)

    print('$ ' + ' '.join(command))
    if err:
        print('stderr:\n' + err, end='' if err.endswith('\n') else '\n')
    if failures:
        for f in failures:
            print('FAIL: ' + f)
        return 1
    print('ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
