#!/usr/bin/env python3
# taprunner.py: run unittest test modules and report in TAP, for meson
#
# Usage: taprunner.py MODULE.py...
#
# Each test method is one TAP line ("ok 3 - test_arena.ArenaTest.test_clone"),
# so `meson test` counts and names them, and a failure's traceback is printed
# as a TAP comment.  The exit status is non-zero when any test failed.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import importlib.util
import os
import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, note=""):
        self.n += 1
        print(f"{'ok' if ok else 'not ok'} {self.n} - {test.id()}{note}",
              flush=True)

    def _comment(self, err):
        for line in "".join(traceback.format_exception(*err)).splitlines():
            print(f"# {line}")

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._comment(err)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._comment(err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, f" # SKIP {reason}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, " # TODO expected failure")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " (unexpected success)")


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return unittest.defaultTestLoader.loadTestsFromModule(module)


def main():
    if len(sys.argv) < 2:
        print("usage: taprunner.py MODULE.py...", file=sys.stderr)
        return 2
    suite = unittest.TestSuite(load(p) for p in sys.argv[1:])
    print(f"1..{suite.countTestCases()}", flush=True)
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
