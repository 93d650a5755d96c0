#!/usr/bin/env python3
# conformance.py: asmctl pci assign against the real libvirt
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage:
#   conformance.py libvirt ASMCTL DIR [NAME...]   compare with libvirt
#   conformance.py beyond ASMCTL DIR [--update]   asm's own goldens
#   conformance.py normalize FILE.xml             print the normal form
#
# libvirt mode: every DIR/*.xml is a domain.  libvirt's embedded qemu driver
# (virsh -c qemu:///embed?root=..., no daemon) defines it and dumps it back;
# `asmctl pci assign` assigns it.  A file NAME.steps beside it lists
# `detach FILE` / `attach FILE` lines, run after the define as
# `virsh detach-device|attach-device --config` and as `asmctl pci
# detach|attach`.  Both results are reduced to a normal form: for every
# device with a PCI address, (identity -> address, multifunction, and
# whether it is written in full, as libvirt writes it), every controller
# in document order with its index and model (the order libvirt writes
# them in, default models resolved; not in the beyond goldens), and for
# every PCI controller, its model, model name and target options; every
# <input> (type and bus) in order and every <audio> (id and type), which
# libvirt adds without a PCI address (not in the beyond goldens).  An
# input is identical, different, refused by both, or refused by one only.
# Exit 0 when every input is identical or refused by both; 77 (skip) when
# libvirt cannot run here, saying why loudly.
#
# libvirt runs as an unprivileged user: as root the script uses (and
# creates, with useradd) the user `asmtest`; HOME and XDG_* point into a
# temporary directory.
#
# beyond mode: DIR/*.xml are inputs for what libvirt cannot do
# (--multi-domain: several PCI domains; --numa-aware; --spare-ports) and
# for bad input.  The first line of each may be a comment
# `<!-- asmctl: numa-aware spare-ports=4 -->` naming extra options (without
# their dashes, which XML comments forbid).  NAME.expect holds the normal
# form of the output, or `exit N` and lines that the error message must
# contain.

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import xml.etree.ElementTree as ET

USER = "asmtest"
# elements libvirt 9.0 does not know and drops: asmctl leaves them as they
# are (address included) and places nothing for them, so they are no part
# of the normal form
DROPPED_BY_LIBVIRT = ("crypto",)
# one `asmctl pci assign` of an input here takes well under a second: a
# run beyond this is a failure (hostile inputs once ran for minutes)
ASM_TIMEOUT = 60


def num(s):
    return int(s, 0) if s is not None else 0


def normalize(text):
    """(addresses, controllers) of a domain XML"""
    root = ET.fromstring(text)
    devices = root.find("devices")
    addrs = {}
    ctrls = {}
    seen = {}
    if devices is None:
        return addrs, ctrls
    for dev in devices:
        if (not isinstance(dev.tag, str) or "}" in dev.tag or
                dev.tag in DROPPED_BY_LIBVIRT):
            continue
        tag = dev.tag
        n = seen.get(tag, 0)
        seen[tag] = n + 1
        if tag == "controller":
            key = "controller[%s][%s]" % (dev.get("type"), num(dev.get("index")))
            if dev.get("type") == "usb" and dev.get("model", "").startswith("ich9"):
                key += "[%s]" % dev.get("model")
        elif tag == "disk" and dev.find("target") is not None:
            key = "disk[%s]" % dev.find("target").get("dev")
        else:
            key = "%s#%d" % (tag, n)
        a = dev.find("address")
        if a is not None and a.get("type") == "pci":
            # the form too: libvirt writes every part of a PCI address
            form = "" if all(a.get(p) is not None for p in
                             ("domain", "bus", "slot", "function")) \
                else " (partial: %s)" % " ".join(
                    p for p in ("domain", "bus", "slot", "function")
                    if a.get(p) is not None)
            # and its spelling: libvirt writes domain='0x0000' bus='0x00'
            # slot='0x00' function='0x0'
            spelt = " ".join("%s=%s" % (p, a.get(p)) for p in
                             ("domain", "bus", "slot", "function")
                             if a.get(p) is not None)
            want = "domain=0x%04x bus=0x%02x slot=0x%02x function=0x%x" % (
                num(a.get("domain")), num(a.get("bus")), num(a.get("slot")),
                num(a.get("function")))
            if not form and spelt != want:
                form = " (written %s)" % spelt
            extra = sorted(k for k in a.keys() if k not in (
                "type", "domain", "bus", "slot", "function", "multifunction"))
            form += "".join(" %s=%s" % (k, a.get(k)) for k in extra)
            addrs[key] = "%04x:%02x:%02x.%x%s%s" % (
                num(a.get("domain")), num(a.get("bus")), num(a.get("slot")),
                num(a.get("function")),
                " multifunction=" + a.get("multifunction")
                if a.get("multifunction") else "", form)
        if tag == "controller" and dev.get("type") == "pci":
            parts = [dev.get("model") or "?"]
            m = dev.find("model")
            if m is not None and m.get("name"):
                parts.append("name=" + m.get("name"))
            t = dev.find("target")
            known = ("chassisNr", "chassis", "port", "busNr", "hotplug")
            if t is not None:
                for k in known:
                    if t.get(k) is not None:
                        v = t.get(k)
                        parts.append("%s=%s" % (k, num(v) if k != "hotplug" else v))
                # any other target option, and what else the controller
                # says of its bus, as written
                parts += ["%s=%s" % (k, t.get(k)) for k in sorted(t.keys())
                          if k not in known]
                node = t.find("node")
                if node is not None:
                    parts.append("node=%s" % node.text.strip())
            for child in dev:
                if isinstance(child.tag, str) and child.tag not in (
                        "model", "target", "address", "alias"):
                    parts.append("<%s%s>" % (child.tag, "".join(
                        " %s=%s" % kv for kv in sorted(child.items()))))
            ctrls[num(dev.get("index"))] = " ".join(parts)
    # the form: every controller, in document order, with its index and
    # model as written (libvirt writes the index, resolves default models
    # and appends the controllers it adds after those of the input)
    order = []
    for dev in devices:
        if isinstance(dev.tag, str) and dev.tag == "controller":
            order.append("%s[%s]%s" % (
                dev.get("type"), dev.get("index", "?"),
                ":" + dev.get("model") if dev.get("model") else ""))
    addrs["~controllers in order"] = " ".join(order)
    # the devices libvirt adds without a PCI address: every <input> in
    # document order with its type and bus (the implicit PS/2 mouse and
    # keyboard), every <audio> with its id and type
    addrs["~inputs in order"] = " ".join(
        "%s:%s" % (dev.get("type"), dev.get("bus")) for dev in devices
        if isinstance(dev.tag, str) and dev.tag == "input")
    addrs["~audio"] = " ".join(
        "%s:%s" % (dev.get("id"), dev.get("type")) for dev in devices
        if isinstance(dev.tag, str) and dev.tag == "audio")
    return addrs, ctrls


def normal_text(text):
    addrs, ctrls = normalize(text)
    # the goldens check placement only
    for k in ("~controllers in order", "~inputs in order", "~audio"):
        addrs.pop(k)
    lines = ["%s %s" % (k, addrs[k]) for k in sorted(addrs)]
    lines += ["pci-controller %d %s" % (k, ctrls[k]) for k in sorted(ctrls)]
    return "\n".join(lines) + "\n"


def diff(lv, asm):
    la, lc = normalize(lv)
    aa, ac = normalize(asm)
    out = []
    for k in sorted(set(la) | set(aa)):
        if la.get(k) != aa.get(k):
            out.append("  %s: libvirt %s, asm %s" % (k, la.get(k), aa.get(k)))
    for k in sorted(set(lc) | set(ac)):
        if lc.get(k) != ac.get(k):
            out.append("  pci controller %d: libvirt %s, asm %s"
                       % (k, lc.get(k), ac.get(k)))
    return out


def skip(why):
    bar = "=" * 72
    print(bar)
    print("SKIP: the libvirt conformance test cannot run here:")
    print("  " + why)
    print("  (install libvirt-clients libvirt-daemon libvirt-daemon-driver-qemu")
    print("   qemu-system-x86; see .ci/install-deps)")
    print(bar)
    sys.exit(77)


class Libvirt:
    def __init__(self):
        if shutil.which("virsh") is None:
            skip("virsh is not installed")
        if shutil.which("qemu-system-x86_64") is None:
            skip("qemu-system-x86_64 is not installed")
        self.dir = tempfile.mkdtemp(prefix="asm-libvirt-")
        os.chmod(self.dir, 0o755)
        self.prefix = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(USER)
            except KeyError:
                r = subprocess.run(["useradd", "-m", USER],
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    skip("running as root and cannot create the user %s: %s"
                         % (USER, r.stderr.strip()))
            pw = pwd.getpwnam(USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            runuser = shutil.which("runuser")
            if runuser is None:
                skip("running as root and runuser is missing")
            self.prefix = [runuser, "-u", USER, "--"]
        d = self.dir
        self.env = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOME=" + d, "XDG_CONFIG_HOME=" + d + "/config",
                    "XDG_CACHE_HOME=" + d + "/cache",
                    "XDG_RUNTIME_DIR=" + d + "/run",
                    "XDG_DATA_HOME=" + d + "/data", "LC_ALL=C"]
        self.uri = "qemu:///embed?root=" + d + "/root"
        r = self.virsh("uri")
        if r.returncode != 0:
            skip("virsh -c %s fails: %s" % (self.uri, r.stderr.strip()))

    def virsh(self, cmds):
        return subprocess.run(self.prefix + self.env +
                              ["virsh", "-q", "-c", self.uri, cmds],
                              capture_output=True, text=True, timeout=600)

    def put(self, path):
        dst = os.path.join(self.dir, os.path.basename(path))
        shutil.copyfile(path, dst)
        os.chmod(dst, 0o644)
        return dst

    def run(self, path, steps):
        """(xml, None) or (None, error)"""
        name = ET.parse(path).getroot().findtext("name")
        f = self.put(path)
        r = self.virsh("define " + f)
        if r.returncode != 0:
            return None, r.stderr.strip()
        cmds = []
        for op, dev in steps:
            cmds.append("%s-device %s %s --config" % (op, name, self.put(dev)))
        cmds.append("dumpxml " + name)
        r = self.virsh("; ".join(cmds))
        self.virsh("undefine " + name)
        if r.returncode != 0:
            return None, r.stderr.strip()
        return r.stdout, None

    def start_many(self, paths):
        """starts one virsh that defines every domain of @paths (one
        embedded driver for all, much faster than a virsh each);
        finish_many() collects the results"""
        self.many = []
        script = []
        for path in paths:
            name = ET.parse(path).getroot().findtext("name")
            self.many.append((path, name))
            script.append("define %s\n" % self.put(path))
        self.out = {}
        self.talker = threading.Thread(target=self._talk,
                                       args=("define", "".join(script)))
        self.talker.start()

    def _talk(self, what, script):
        r = subprocess.run(self.prefix + self.env +
                           ["virsh", "-q", "-c", self.uri], input=script,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=3000)
        # without a terminal virsh echoes each command after its prompt,
        # its messages (stderr, unbuffered) in between
        chunks = {}
        for chunk in r.stdout.split("virsh # ")[1:]:
            cmd, _, body = chunk.partition("\n")
            chunks.setdefault(cmd.strip(), []).append(body)
        self.out[what] = chunks

    def finish_many(self):
        """{path: (xml, None) or (None, error)} of start_many().  The
        domains are dumped by a second virsh, which loads them from their
        files as the per-input run does (libvirt reorders controllers when
        it reads a domain back, and refuses some it wrote)"""
        self.talker.join()
        defined = self.out["define"]
        res = {}
        dump = []
        for path, name in self.many:
            f = os.path.join(self.dir, os.path.basename(path))
            d = defined.get("define " + f)
            if d is None or len(d) != 1:
                res[path] = (None, "virsh output not understood for %s"
                             % name)
            elif "error:" in d[0]:
                res[path] = (None, d[0].strip())
            else:
                dump.append("dumpxml %s\n" % name)
        self._talk("dumpxml", "".join(dump))
        dumped = self.out["dumpxml"]
        for path, name in self.many:
            if path in res:
                continue
            d = dumped.get("dumpxml " + name, [""])
            if len(d) == 1 and d[0].lstrip().startswith("<domain"):
                res[path] = (d[0], None)
            else:
                res[path] = (None, d[0].strip() or "not dumped")
        return res

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def asm_run(asmctl, path, steps, extra=()):
    """(xml, None) or (None, (exit code, message))"""
    with tempfile.TemporaryDirectory(prefix="asm-assign-") as t:
        out = os.path.join(t, "out.xml")
        try:
            r = subprocess.run([asmctl, "pci", "assign", *extra, path,
                                "-o", out],
                               capture_output=True, text=True,
                               timeout=ASM_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None, (-1, "no answer within %d s" % ASM_TIMEOUT)
        if r.returncode != 0:
            return None, (r.returncode, r.stderr.strip())
        for op, dev in steps:
            nxt = os.path.join(t, "next.xml")
            r = subprocess.run([asmctl, "pci", op, out, dev, "-o", nxt],
                               capture_output=True, text=True)
            if r.returncode != 0:
                return None, (r.returncode, r.stderr.strip())
            os.replace(nxt, out)
        with open(out) as f:
            return f.read(), None


def read_steps(path):
    steps = []
    sp = path[:-4] + ".steps"
    if os.path.exists(sp):
        with open(sp) as f:
            for line in f:
                line = line.split("#")[0].strip()
                if not line:
                    continue
                op, dev = line.split()
                steps.append((op, os.path.join(os.path.dirname(path), dev)))
    return steps


def inputs(d, names):
    files = sorted(f for f in os.listdir(d)
                   if f.endswith(".xml") and not f.startswith("dev-"))
    if names:
        files = [f for f in files if f[:-4] in names]
    return [os.path.join(d, f) for f in files]


KINDS = ("identical", "refused-by-both", "refused-by-asm-only",
         "refused-by-libvirt-only", "different")

# Differences known and not fixed: each class would have reproducers in
# tests/libvirt/pending/ (a directory no test runs, with a README.md
# saying what libvirt does and what is left) and an entry (name,
# reproducer, match (kind, libvirt's error, asm's error, the lines that
# differ, the input's text)): a generated domain of a known class is
# counted and listed as such, not failed; a hand-written input is never
# excused.  There is none: the last class (controllers without an address
# plugged into each other's buses) is fixed, its reproducers are
# q35-*switch-ports-cycle*.xml here.
KNOWN = ()


def known_class(kind, lerr, aerr, lines, text):
    for name, pending, match in KNOWN:
        if match(kind, lerr, aerr, lines, text):
            return name, pending
    return None


def compare(lx, lerr, ax, aerr):
    """(kind, lines saying why) of one input's two results"""
    if lx is None and ax is None:
        return "refused-by-both", [
            "  libvirt: %s" % (lerr.splitlines()[-1] if lerr else ""),
            "  asm:     %s" % (aerr[1].splitlines()[-1] if aerr[1] else "")]
    if lx is None:
        return "refused-by-libvirt-only", [
            "  libvirt: %s" % (lerr.splitlines()[-1] if lerr else "")]
    if ax is None:
        return "refused-by-asm-only", ["  asm (exit %d): %s" % aerr]
    d_ = diff(lx, ax)
    return ("different" if d_ else "identical"), d_


def cmd_generated(asmctl, seeds, count):
    """the generated corpus: gen-domains.py's domains 0..count-1 of each
    seed, reported by machine type"""
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location(
        "gen_domains", os.path.join(here, "gen-domains.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    keep = os.environ.get("ASM_LV_GEN_KEEP")
    lv = Libvirt()
    tmp = tempfile.mkdtemp(prefix="asm-lv-gen-")
    counts = {m: dict.fromkeys(KINDS + ("known",), 0) for m in gen.MACHINES}
    known = {}
    bad = 0
    try:
        todo = []
        for seed in seeds:
            for k in range(count):
                name, mach, text = gen.generate(seed, k)
                path = os.path.join(tmp, name + ".xml")
                with open(path, "w") as f:
                    f.write(text)
                todo.append((path, name, mach, seed, k))
        lv.start_many([t[0] for t in todo])
        asm = {t[0]: asm_run(asmctl, t[0], []) for t in todo}
        lvres = lv.finish_many()
        for path, name, mach, seed, k in todo:
            lx, lerr = lvres[path]
            ax, aerr = asm[path]
            kind, lines = compare(lx, lerr, ax, aerr)
            if kind in ("identical", "refused-by-both"):
                counts[mach][kind] += 1
                continue
            with open(path) as f:
                kc = known_class(kind, lerr, aerr, lines, f.read())
            if kc is not None:
                counts[mach]["known"] += 1
                known.setdefault(kc, []).append(name)
                continue
            counts[mach][kind] += 1
            bad += 1
            print("%-24s %s (gen-domains.py DIR %d %d: domain %d)"
                  % (kind, name, seed, k + 1, k))
            for line in lines[:40]:
                print(line)
            if keep:
                os.makedirs(keep, exist_ok=True)
                shutil.copy(path, keep)
    finally:
        lv.close()
        shutil.rmtree(tmp, ignore_errors=True)
    for (cname, pending), names in sorted(known.items()):
        print("known difference (%s, pending/%s): %d: %s"
              % (cname, pending, len(names), " ".join(names[:8]) +
                 (" ..." if len(names) > 8 else "")))
    print("generated: seeds %s, %d domains each"
          % (",".join(map(str, seeds)), count))
    print("%-8s %9s %9s %9s %9s %9s %9s" % (
        "machine", "identical", "ref.both", "asm-only", "lv-only",
        "different", "known"))
    for m in gen.MACHINES:
        c = counts[m]
        print("%-8s %9d %9d %9d %9d %9d %9d" % (
            m, c["identical"], c["refused-by-both"], c["refused-by-asm-only"],
            c["refused-by-libvirt-only"], c["different"], c["known"]))
    print("%d passed, %d known differences, %d failed"
          % (sum(counts[m]["identical"] + counts[m]["refused-by-both"]
                 for m in gen.MACHINES),
             sum(counts[m]["known"] for m in gen.MACHINES), bad))
    return 1 if bad else 0


def cmd_libvirt(asmctl, d, names):
    lv = Libvirt()
    counts = {"identical": 0, "different": 0, "refused-by-both": 0,
              "refused-by-libvirt-only": 0, "refused-by-asm-only": 0}
    try:
        for path in inputs(d, names):
            name = os.path.basename(path)[:-4]
            steps = read_steps(path)
            lx, lerr = lv.run(path, steps)
            ax, aerr = asm_run(asmctl, path, steps)
            if lx is None and ax is None:
                kind = "refused-by-both"
                print("%-24s %s\n  libvirt: %s\n  asm:     %s"
                      % (kind, name, lerr.splitlines()[-1] if lerr else "",
                         aerr[1].splitlines()[-1] if aerr[1] else ""))
            elif lx is None:
                kind = "refused-by-libvirt-only"
                print("%-24s %s\n  libvirt: %s" % (kind, name, lerr))
            elif ax is None:
                kind = "refused-by-asm-only"
                print("%-24s %s\n  asm (exit %d): %s" % (kind, name, *aerr))
            else:
                d_ = diff(lx, ax)
                kind = "different" if d_ else "identical"
                na = len(normalize(lx)[0])
                print("%-24s %s (%d addresses, %d PCI controllers)"
                      % (kind, name, na, len(normalize(lx)[1])))
                for line in d_[:40]:
                    print(line)
            counts[kind] += 1
    finally:
        lv.close()
    bad = (counts["different"] + counts["refused-by-libvirt-only"] +
           counts["refused-by-asm-only"])
    print("conformance: %d identical, %d different, %d refused by both, "
          "%d refused by one only"
          % (counts["identical"], counts["different"],
             counts["refused-by-both"],
             counts["refused-by-libvirt-only"] + counts["refused-by-asm-only"]))
    print("%d passed, %d failed" % (counts["identical"] +
                                    counts["refused-by-both"], bad))
    return 1 if bad else 0


def cmd_beyond(asmctl, d, update):
    passed = failed = 0
    for path in inputs(d, None):
        name = os.path.basename(path)[:-4]
        with open(path) as f:
            first = f.readline()
        extra = []
        if first.startswith("<!-- asmctl:"):
            for word in first[len("<!-- asmctl:"):].split("-->")[0].split():
                extra += ["--" + word.split("=")[0]] + word.split("=")[1:]
        exp_path = path[:-4] + ".expect"
        ax, aerr = asm_run(asmctl, path, read_steps(path), extra)
        if ax is not None:
            got = normal_text(ax)
        else:
            # the message without the command and the file name
            got = "exit %d\n%s\n" % (aerr[0],
                                      aerr[1].split(path + ": ", 1)[-1])
        if update and (not os.path.exists(exp_path) or ax is not None):
            with open(exp_path, "w") as f:
                f.write(got)
            print("updated", exp_path)
            continue
        with open(exp_path) as f:
            want = f.read()
        if want.startswith("exit "):
            lines = want.splitlines()
            ok = (ax is None and lines[0] == "exit %d" % aerr[0] and
                  all(l in aerr[1] for l in lines[1:] if l.strip()))
        else:
            ok = got == want
        if ok:
            passed += 1
            print("ok     %s" % name)
        else:
            failed += 1
            print("FAILED %s\n--- expected\n%s--- got\n%s" % (name, want, got))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "normalize":
        with open(argv[2]) as f:
            sys.stdout.write(normal_text(f.read()))
        return 0
    if len(argv) < 4:
        sys.stderr.write(__doc__ if __doc__ else "usage: see the header\n")
        return 2
    mode, asmctl, d = argv[1], argv[2], argv[3]
    if mode == "generated":
        # SEED[,SEED...] COUNT; ASM_LV_GEN_COUNT overrides COUNT
        count = int(os.environ.get("ASM_LV_GEN_COUNT") or argv[4])
        return cmd_generated(asmctl, [int(x) for x in d.split(",")], count)
    if mode == "libvirt":
        return cmd_libvirt(asmctl, d, argv[4:])
    if mode == "beyond":
        return cmd_beyond(asmctl, d, "--update" in argv[4:])
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
