#!/usr/bin/env python3
"""check-cli.py ASMCTL SOURCE_ROOT: asmctl's pictures and error paths.

- `asmctl demo -o DIR` writes well-formed SVG that names every switch of
  the fabric (read from the JSON snapshot it writes beside it), and the
  graphviz picture when dot is installed;
- `asmctl run --svg` does the same for the example scenario;
- `demo --json` prints JSON, `--version` and `--help` work;
- every error path gives a clear message and the documented exit status:
  1 failed operation or missing file, 2 bad command line, 3 bad input.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

asmctl, root = os.path.abspath(sys.argv[1]), sys.argv[2]
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(*args, stdin=None):
    p = subprocess.run([asmctl, *args], capture_output=True, text=True,
                       input=stdin, cwd=root)
    return p.returncode, p.stdout, p.stderr


def svg_names(path, names, what):
    try:
        tree = ET.parse(path)
    except ET.ParseError as e:
        check(False, f"{what}: {path} is well-formed XML ({e})")
        return
    check(tree.getroot().tag.endswith("svg"), f"{what}: the root is <svg>")
    text = " ".join(t for t in tree.getroot().itertext())
    for n in names:
        check(n in text, f"{what}: names switch {n}")


with tempfile.TemporaryDirectory() as tmp:
    rc, out, err = run("demo", "-o", tmp)
    check(rc == 0, "demo -o DIR exits 0")
    snap = json.load(open(os.path.join(tmp, "asm-demo.json")))
    names = [s["name"] for s in snap["switches"]]
    check(len(names) == 3, "the demo snapshot has 3 switches")
    svg_names(os.path.join(tmp, "asm-demo.svg"), names, "demo SVG")
    if shutil.which("dot"):
        svg_names(os.path.join(tmp, "asm-demo-topology.svg"), names,
                  "demo topology SVG")
    svg = os.path.join(tmp, "lab.svg")
    rc, out, err = run("run", "examples/asmctl/scenarios/lab.json",
                       "--svg", svg)
    check(rc == 0, "run --svg exits 0")
    svg_names(svg, ["sw-a", "sw-b", "sw-c"], "scenario SVG")

    rc, out, err = run("demo", "--json")
    try:
        # the final state: sw-b was drained and removed
        check(rc == 0 and
              [s["name"] for s in json.loads(out)["switches"]] ==
              ["sw-a", "sw-c"],
              "demo --json prints the final snapshot, without sw-b")
    except ValueError:
        check(False, "demo --json prints JSON")
    rc, out, err = run("pci", "assign", "--json",
                       "tests/libvirt/q35-240-rootports.xml")
    try:
        devs = json.loads(out)["devices"]
        check(rc == 0 and len(devs) >= 240 and
              all(re.fullmatch(r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]",
                               d["address"]) for d in devs),
              "pci assign --json lists every PCI device with its address")
    except (ValueError, KeyError):
        check(False, "pci assign --json prints JSON")
    rc, out, err = run("--version")
    check(rc == 0 and out.startswith("asmctl (asm) "), "--version")
    for cmd in (["--help"], ["demo", "--help"], ["run", "--help"],
                ["script", "--help"], ["iova", "--help"], ["pci", "--help"],
                ["pci", "assign", "--help"]):
        rc, out, err = run(*cmd)
        check(rc == 0 and "Usage" in out + err, " ".join(cmd))

    # error paths: (arguments, stdin or None, exit status, text in stderr)
    bad = os.path.join(tmp, "bad.json")
    cases = [
        (["nosuchcommand"], 2, "unknown command 'nosuchcommand'"),
        ([], 2, "Usage"),
        (["demo", "--backend", "nosuch"], 1, "unknown backend 'nosuch'"),
        (["demo", "extra"], 2, "unexpected argument 'extra'"),
        (["run"], 2, "expected one scenario file"),
        (["run", "/nonexistent/x.json"], 1, "/nonexistent/x.json"),
        (["run", bad], 3, "Parse error"),
        (["script", "/nonexistent/x.asm"], 3, "cannot open"),
    ]
    with open(bad, "w") as f:
        f.write("{ this is not json")
    for args, want_rc, text in cases:
        rc, out, err = run(*args)
        check(rc == want_rc and text in err,
              f"asmctl {' '.join(args) or '(nothing)'}: exit {rc} "
              f"(want {want_rc}), message has {text!r}")
    for doc, text in [
        ('{"fabric": {"global": ["0", "0xfff"], "granule": "4K", "x": 1}}',
         "$.fabric.x: unknown key"),
        ('{"fabric": {"global": ["0", "0xffffff"], "granule": "4K"}, '
         '"steps": [{"do": "fly"}]}', "$.steps[0].do: unknown step 'fly'"),
        ('{"fabric": {"global": ["0", "0xffffff"], "granule": "4K"}, '
         '"switches": [{"name": "a", "bandwidth": "lots"}]}',
         "$.switches[0].bandwidth"),
        ('[1, 2]', "a scenario is a JSON object"),
    ]:
        with open(bad, "w") as f:
            f.write(doc)
        rc, out, err = run("run", bad)
        check(rc == 3 and text in err,
              f"run with {text!r}: exit {rc} (want 3), message: {err.strip()}")
    rc, out, err = run("script", "-", stdin="arena a 4K\nspan a 0 0xfff\nbogus line\n")
    check(rc == 3 and ":3:" in err, f"script with a bad line 3: exit {rc}, "
          f"message: {err.strip()}")

if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
