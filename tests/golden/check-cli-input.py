#!/usr/bin/env python3
"""check-cli-input.py ASMCTL SOURCE_ROOT: asmctl reads JSON strictly.

Each case is an input that asmctl once took wrongly (a crash, a value
silently changed, a key silently replaced); each must now be refused with
exit status 3 and a message that names where and why:

- nesting 100,000 deep (json-glib recursed until the stack overflowed),
  in `asmctl run` and in the script's `load`;
- numbers: a value above its field's range (vfs, latency_ns,
  table_capacity, ports, port) is refused with the range, never clamped;
  "010" is not octal 8; " 12M" and "+2M" are not numbers; 010 and 0x10 are
  not JSON numbers; an integer above 2^63-1 does not wrap to -1;
- a key given twice in one object (the second "steps" replaced the first);
- U+0000 in a name (it cut the name short);
- `--backend qemu` reads the switches through the same checked readers
  ("8" is a number, -1 is out of range, both with their JSON path), before
  QEMU starts (so no QEMU is needed here);
- an invalid window_granule stops the run (exit 3), no warning printed.
"""
import os
import subprocess
import sys
import tempfile

asmctl, root = os.path.abspath(sys.argv[1]), sys.argv[2]
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(*args, stdin=None):
    p = subprocess.run([asmctl, *args], capture_output=True, text=True,
                       input=stdin, cwd=root, timeout=60)
    return p.returncode, p.stdout, p.stderr


FABRIC = '"fabric": {"global": ["0", "0xffffffffff"], "granule": "2M"}'


def scenario(switch='{"name": "sw-a", "bandwidth": 1000}', device=None,
             extra=""):
    doc = '{' + FABRIC + ', "switches": [' + switch + ']'
    if device is not None:
        doc += ', "devices": [' + device + ']'
    return doc + extra + ', "steps": [{"do": "check"}]}'


def pf(vfs):
    return ('{"name": "nic0", "kind": "pf", "bar": "1M", "switch": "sw-a", '
            '"port": 0, "vfs": ' + vfs + ', "vf_bar": "64K"}')


def sw(key, value):
    if key == "bandwidth":
        return '{"name": "sw-a", "bandwidth": ' + value + '}'
    return ('{"name": "sw-a", "bandwidth": 1000, "' + key + '": ' + value +
            '}')


cases = [
    # (what, document, extra asmctl run arguments, texts in stderr)
    ("nesting 100000 deep", "[" * 100000, [],
     ["line 1, column 65: nested deeper than 64"]),
    ("nesting 65 deep in an object",
     '{"a": ' + "[" * 64 + "]" * 64 + "}", [],
     ["nested deeper than 64"]),
    ("vfs above 64", scenario(device=pf("100000000")), [],
     ["$.devices[0].vfs: 100000000 is out of range 0..64"]),
    ("latency_ns above 2^32-1", scenario(sw("latency_ns", "4294967296")), [],
     ["$.switches[0].latency_ns: 4294967296 is out of range 0..4294967295"]),
    ("table_capacity above 2^32-1",
     scenario(sw("table_capacity", '"0x100000000"')), [],
     ["$.switches[0].table_capacity: 4294967296 is out of range"]),
    ("a port above 2^32-1",
     scenario(device=pf("8").replace('"port": 0', '"port": 4294967296')), [],
     ["$.devices[0].port: 4294967296 is out of range 0..4294967295"]),
    ("\"010\" is not octal", scenario(sw("bandwidth", '"010"')), [],
     ["$.switches[0].bandwidth: '010' has a leading zero"]),
    ("a leading space", scenario(sw("bandwidth", '" 12M"')), [],
     ["$.switches[0].bandwidth: ' 12M' is not a number"]),
    ("a leading plus", scenario(sw("bandwidth", '"+2M"')), [],
     ["$.switches[0].bandwidth: '+2M' is not a number"]),
    ("a negative number", scenario(sw("latency_ns", "-1")), [],
     ["$.switches[0].latency_ns: -1 is out of range 0..4294967295"]),
    ("a JSON 010", scenario(sw("latency_ns", "010")), [],
     ["$.switches[0].latency_ns: '010' is not a JSON value"]),
    ("a JSON 0x10", scenario(sw("latency_ns", "0x10")), [],
     ["$.switches[0].latency_ns: '0x10' is not a JSON value"]),
    ("an integer above 2^63-1",
     scenario(sw("bandwidth", "18446744073709551615")), [],
     ["$.switches[0].bandwidth: 18446744073709551615 does not fit"]),
    ("a second \"steps\"",
     scenario() [:-1] + ', "steps": []}', [],
     ['$: the key "steps" is given twice']),
    ("a key twice, one escaped",
     scenario(sw("ports", '1, "p\\u006frts": 2')), [],
     ['$.switches[0]: the key "ports" is given twice']),
    ("U+0000 in a name", scenario(extra=', "workloads": ["vm\\u0000x"]'), [],
     ["$.workloads[0]: a string holds U+0000"]),
    ("qemu: ports \"8\" is a number",
     scenario(sw("ports", '"x8"')), ["--backend", "qemu"],
     ["$.switches[0].ports: 'x8' is not a number"]),
    ("qemu: ports -1", scenario(sw("ports", "-1")), ["--backend", "qemu"],
     ["$.switches[0].ports: -1 is out of range 0..4294967295"]),
    ("qemu: an unknown key", scenario(sw("colour", '"red"')),
     ["--backend", "qemu"], ["$.switches[0].colour: unknown key"]),
    ("an invalid window_granule",
     scenario().replace('"granule": "2M"',
                        '"granule": "2M", "window_granule": 3'), [],
     ["$.fabric: window granule 0x3 is not a power of two"]),
]

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "in.json")
    for what, doc, extra, texts in cases:
        with open(path, "w") as f:
            f.write(doc)
        rc, out, err = run("run", *extra, path)
        check(rc == 3 and all(t in err for t in texts) and
              "WARNING" not in err and "CRITICAL" not in err,
              f"run, {what}: exit {rc} (want 3), message: {err.strip()[:300]}")

    # a string "8" for ports is a number like 8: the scenario is read past
    # the switches (and fails later, on purpose, with a bad device)
    with open(path, "w") as f:
        f.write(scenario(sw("ports", '"8"'),
                         device=pf("8").replace('"port": 0', '"port": -2')))
    rc, out, err = run("run", "--backend", "qemu", path)
    check(rc == 3 and "$.devices[0].port: -2 is out of range" in err,
          f"qemu: ports \"8\" is read as 8: exit {rc}, message: "
          f"{err.strip()[:300]}")

    # the script's load reads a saved fabric through the same pre-scan
    for what, doc, text in [
        ("nesting 100000 deep", "{" * 100000, "nested deeper than 64"),
        ("a key twice", '{"version": 1, "version": 1}',
         'the key "version" is given twice'),
    ]:
        with open(path, "w") as f:
            f.write(doc)
        rc, out, err = run("script", "-", stdin=f"load f {path}\n")
        check(rc == 1 and "<stdin>:1: f: " in err and text in err and
              "(parse)" in err,
              f"script load, {what}: exit {rc} (want 1), message: "
              f"{err.strip()[:300]}")

    # the good examples still run
    for name in ("lab.json", "lifecycle.json"):
        rc, out, err = run("run", os.path.join("examples", "asmctl",
                                               "scenarios", name))
        check(rc == 0, f"examples/asmctl/scenarios/{name} runs: {err[:200]}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
