#!/usr/bin/env python3
# gen-domains.py: random domain XMLs for the libvirt conformance test
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage:
#   gen-domains.py OUTDIR SEED COUNT [pc|q35]
#
# Writes COUNT domains, OUTDIR/gen-SEED-K.xml for K = 0..COUNT-1.  Domain K
# of seed S depends on (S, K) only: generate(S, K) rebuilds it alone, so a
# difference found in a large run is replayed by its name.  The machine is
# pc or q35 (alternately, unless one is named).
#
# The domains are meant to be valid, so that libvirt accepts most of them,
# but they are not checked: some refusals are expected and are part of the
# test (asm must refuse them too, with libvirt's reason).  What they hold,
# each with some probability:
#   - PCI controllers with index gaps: pci-bridge (pc), the PCIe family
#     (q35: pcie-root-port with hotplug on or off, switches,
#     pcie-to-pci-bridge, dmi-to-pci-bridge, pci-bridge), expander buses
#     bound to a NUMA node (pci-expander-bus on pc, pcie-expander-bus on
#     q35, with a <cpu><numa> section of two cells), some with busNr;
#   - disks on every bus (virtio, sata, scsi, ide on pc, usb), CD-ROMs,
#     drive addresses;
#   - NICs of every PCI model libvirt 9.0 and QEMU 7.2 know;
#   - SCSI, virtio-serial, USB (a single model or the ICH9 companion set
#     ich9-ehci1 + ich9-uhci1..3), SATA and IDE controllers, with gaps;
#   - video (several models, a primary and secondaries), sound, watchdog,
#     rng, memballoon, vsock, serial (pci-serial, isa-serial), consoles and
#     channels (virtio-serial), input, 9p filesystems, shmem, panic,
#     virtio-pmem and nvdimm memory (with maxMemory), graphics;
#   - user PCI addresses on any of them: partial (only the bus, only the
#     slot) or full, and multifunction slots (function 0 with
#     multifunction='on' and further functions).
# No host devices: they need a host.

import os
import random
import sys

MACHINES = ("pc", "q35")

NIC_MODELS = ("virtio", "virtio", "virtio", "e1000", "e1000", "e1000e",
              "e1000e", "rtl8139", "rtl8139", "virtio-transitional",
              "virtio-non-transitional", "ne2k_pci", "pcnet", "i82559er",
              "vmxnet3", "i82551", "i82557b", "usb-net")

PCI_Q35 = (("pcie-root-port", 10), ("pcie-switch-upstream-port", 2),
           ("pcie-switch-downstream-port", 3), ("pcie-to-pci-bridge", 2),
           ("dmi-to-pci-bridge", 1), ("pci-bridge", 2))

SCSI_MODELS = ("virtio-scsi", "virtio-scsi", "lsilogic", "lsisas1068",
               "virtio-transitional", "virtio-non-transitional", "auto",
               "megasas", "lsisas1078", "am53c974", "dc390", "vmpvscsi")


def _pick(rnd, weighted):
    names = [n for n, _ in weighted]
    weights = [w for _, w in weighted]
    return rnd.choices(names, weights)[0]


def _hx(v, width):
    return "0x%0*x" % (width, v)


class Gen:
    """one domain: generate(seed, k) below"""

    def __init__(self, rnd, machine):
        self.rnd = rnd
        self.q35 = machine == "q35"
        self.machine = machine
        self.devs = []
        self.taken = set()          # (bus, slot) of full user addresses
        self.sd = set()             # sdX names in use
        self.vd = 0                 # next vdX
        self.hd = set()
        self.pci = {}               # index -> model of user PCI controllers
        self.numa = False
        self.max_memory = False
        self.balloon = False
        self.usb_models = []

    # -- addresses ------------------------------------------------------

    def address(self, p_partial=0.08, p_full=0.06, multi=False):
        """an <address type='pci'/> or '' """
        r = self.rnd.random()
        if r < p_partial:
            if self.rnd.random() < 0.6 and self.pci:
                bus = self.rnd.choice([0] + sorted(self.pci))
                return "<address type='pci' bus='%s'/>" % _hx(bus, 2)
            return "<address type='pci' slot='%s'/>" % _hx(
                self.rnd.randint(2, 0x1e), 2)
        if r < p_partial + p_full:
            return self.full_address()
        return ""

    def full_address(self, bus=None, slot=None, function=0, mf=None):
        if bus is None:
            bus = 0
            if self.pci and self.rnd.random() < 0.4:
                bus = self.rnd.choice(sorted(self.pci))
        if slot is None:
            lo = 0 if self.pci.get(bus, "").startswith(("pcie-root-port",
                                                        "pcie-switch-down")) \
                else 1
            hi = lo if lo == 0 else 0x1e
            for _ in range(8):
                slot = self.rnd.randint(lo, hi)
                if (bus, slot) not in self.taken:
                    break
        self.taken.add((bus, slot))
        return ("<address type='pci' domain='0x0000' bus='%s' slot='%s' "
                "function='%s'%s/>" % (_hx(bus, 2), _hx(slot, 2),
                                        _hx(function, 1),
                                        " multifunction='%s'" % mf if mf
                                        else ""))

    # -- devices --------------------------------------------------------

    def add(self, xml):
        self.devs.append(xml)

    def pci_controllers(self):
        rnd = self.rnd
        n = rnd.choice((0, 0, 1, 2, 3, 4, 5, 6))
        indexes = sorted(rnd.sample(range(1, 13), n))
        upstream = False
        for i in indexes:
            m = "pci-bridge"
            if self.q35:
                m = _pick(rnd, PCI_Q35)
                # a downstream port mostly after an upstream port (else
                # libvirt refuses it: it cannot add a switch for it)
                if m == "pcie-switch-downstream-port" and not upstream and \
                        rnd.random() < 0.8:
                    m = "pcie-root-port"
                upstream = upstream or m == "pcie-switch-upstream-port"
            self.pci[i] = m
        if rnd.random() < 0.15:
            # expander buses, on a NUMA node each
            self.numa = True
            free = [i for i in range(1, 14) if i not in self.pci]
            for i in sorted(rnd.sample(free, rnd.choice((1, 1, 2)))):
                self.pci[i] = ("pcie-expander-bus" if self.q35 else
                               "pci-expander-bus")
        for i in sorted(self.pci):
            m = self.pci[i]
            inner = []
            target = ""
            if m == "pcie-root-port" and rnd.random() < 0.2:
                target = "<target hotplug='off'/>"
            elif m.endswith("expander-bus"):
                bus_nr = ""
                if rnd.random() < 0.4:
                    bus_nr = " busNr='%d'" % rnd.choice((100, 180, 200, 250))
                target = "<target%s><node>%d</node></target>" % (
                    bus_nr, rnd.randint(0, 1))
            if target:
                inner.append(target)
            a = ""
            if rnd.random() < 0.12:
                a = self.address(p_partial=0.5, p_full=0.0)
            if a:
                inner.append(a)
            self.add("<controller type='pci' index='%d' model='%s'>%s"
                     "</controller>" % (i, m, "".join(inner)))

    def sd_name(self):
        for _ in range(30):
            n = "sd" + chr(ord("a") + self.rnd.randint(0, 25))
            if n not in self.sd:
                self.sd.add(n)
                return n
        return None

    def disk(self):
        rnd = self.rnd
        bus = rnd.choice(("virtio", "virtio", "virtio", "sata", "sata",
                          "scsi", "scsi", "ide", "usb"))
        if bus == "ide" and self.q35 and rnd.random() < 0.7:
            bus = "sata"
        device = "disk"
        if bus in ("sata", "ide", "scsi") and rnd.random() < 0.25:
            device = "cdrom"
        extra = ""
        if bus == "virtio":
            if self.vd >= 26:
                return
            name = "vd" + chr(ord("a") + self.vd)
            self.vd += 1
            model = rnd.choice(("", "", "", "", " model='virtio-transitional'",
                                " model='virtio-non-transitional'"))
            extra = self.address()
            if rnd.random() < 0.05:
                extra = self.multifunction_pair(extra)
        elif bus == "ide":
            left = [n for n in ("hda", "hdb", "hdc", "hdd") if n not in self.hd]
            if not left:
                return
            name = rnd.choice(left)
            self.hd.add(name)
            model = ""
        else:
            name = self.sd_name()
            if name is None:
                return
            model = ""
            if bus in ("sata", "scsi") and rnd.random() < 0.15:
                extra = ("<address type='drive' controller='%d' bus='0' "
                         "target='0' unit='%d'/>"
                         % (rnd.choice((0, 0, 1, 2)),
                            rnd.randint(0, 5 if bus == "sata" else 6)))
        ro = "<readonly/>" if device == "cdrom" else ""
        src = "" if device == "cdrom" and rnd.random() < 0.5 else \
            "<source file='/var/lib/asm/%s.img'/>" % name
        self.add("<disk type='file' device='%s'%s><driver name='qemu' "
                 "type='raw'/>%s<target dev='%s' bus='%s'/>%s%s</disk>"
                 % (device, model, src, name, bus, ro, extra))

    def multifunction_pair(self, addr):
        """turn this device's address into function 0 of a multifunction
        slot and add a second function (a NIC) there"""
        bus = 0
        slot = self.rnd.randint(3, 0x1c)
        if (bus, slot) in self.taken:
            return addr
        a0 = self.full_address(bus, slot, 0, "on")
        a1 = self.full_address(bus, slot, 1)
        self.add("<interface type='user'><model type='%s'/>%s</interface>"
                 % (self.rnd.choice(("virtio", "e1000", "rtl8139")), a1))
        return a0

    def nic(self):
        m = self.rnd.choice(NIC_MODELS)
        a = "" if m == "usb-net" else self.address()
        if a == "" and m != "usb-net" and self.rnd.random() < 0.04:
            a = self.multifunction_pair(a)
        self.add("<interface type='user'><model type='%s'/>%s</interface>"
                 % (m, a))

    def controller(self):
        rnd = self.rnd
        kind = rnd.choice(("scsi", "scsi", "virtio-serial", "usb", "usb",
                           "companions", "sata", "ide"))
        idx = rnd.choice((0, 0, 0, 1, 2, 3))
        if kind == "scsi":
            self.add("<controller type='scsi' index='%d' model='%s'>%s"
                     "</controller>" % (idx, rnd.choice(SCSI_MODELS),
                                        self.address()))
        elif kind == "virtio-serial":
            self.add("<controller type='virtio-serial' index='%d'%s>%s"
                     "</controller>"
                     % (idx, rnd.choice(("", "", " model='virtio-"
                                         "transitional'")), self.address()))
        elif kind == "usb":
            m = rnd.choice(("qemu-xhci", "nec-xhci", "piix3-uhci",
                            "piix4-uhci", "ehci", "ich9-ehci1", "none",
                            "pci-ohci", "vt82c686b-uhci"))
            # model='none' only alone at index 0: libvirt defines a
            # domain with another one but cannot read it back
            if m == "none" and self.usb_models:
                return
            self.usb_models.append(m)
            self.add("<controller type='usb' index='%d' model='%s'>%s"
                     "</controller>" % (0 if m == "none" else
                                        rnd.choice((0, 0, 1)), m,
                                        self.address() if m != "none"
                                        else ""))
        elif kind == "companions" and "none" not in self.usb_models:
            self.usb_models.append("ich9-ehci1")
            idx = rnd.choice((0, 0, 1))
            full = rnd.random() < 0.3
            slot = rnd.choice((0x1d, 0x07, 0x0a)) if full else None
            if full and (0, slot) in self.taken:
                full = False
            parts = [("ich9-ehci1", 7, "")]
            parts += [("ich9-uhci%d" % u, u - 1,
                       "<master startport='%d'/>" % (2 * (u - 1)))
                      for u in (1, 2, 3)]
            for m, fn, master in parts:
                a = ""
                if full:
                    a = ("<address type='pci' domain='0x0000' bus='0x00' "
                         "slot='%s' function='%s'%s/>"
                         % (_hx(slot, 2), _hx(fn, 1),
                            " multifunction='on'" if fn == 0 else ""))
                self.add("<controller type='usb' index='%d' model='%s'>%s%s"
                         "</controller>" % (idx, m, master, a))
            if full:
                self.taken.add((0, slot))
        elif kind == "sata":
            self.add("<controller type='sata' index='%d'>%s</controller>"
                     % (idx, self.address()))
        elif kind == "ide" and not self.q35:
            self.add("<controller type='ide' index='0'/>")

    def video(self):
        rnd = self.rnd
        n = rnd.choice((1, 1, 1, 2, 3))
        for v in range(n):
            if v == 0:
                m = rnd.choice(("vga", "cirrus", "qxl", "virtio", "bochs",
                                "vmvga", "ramfb", "none"))
                prim = " primary='yes'" if rnd.random() < 0.3 else ""
            else:
                m = rnd.choice(("qxl", "qxl", "virtio", "vga", "bochs"))
                prim = ""
            a = "" if m in ("ramfb", "none") else self.address()
            self.add("<video><model type='%s'%s/>%s</video>" % (m, prim, a))
            if m == "none":
                break

    def misc(self):
        rnd = self.rnd
        kind = rnd.choice(("sound", "watchdog", "rng", "balloon", "vsock",
                           "serial", "console", "channel", "input",
                           "filesystem", "shmem", "panic", "pmem", "nvdimm",
                           "graphics", "rng"))
        a = self.address()
        if kind == "sound":
            m = rnd.choice(("ich6", "ich9", "ac97", "es1370", "sb16", "usb",
                            "ich7"))
            self.add("<sound model='%s'>%s</sound>"
                     % (m, a if m not in ("sb16", "usb") else ""))
        elif kind == "watchdog":
            m = rnd.choice(("i6300esb", "i6300esb", "ib700", "itco"))
            self.add("<watchdog model='%s' action='reset'>%s</watchdog>"
                     % (m, a if m == "i6300esb" else ""))
        elif kind == "rng":
            m = rnd.choice(("virtio", "virtio", "virtio-transitional",
                            "virtio-non-transitional"))
            self.add("<rng model='%s'><backend model='random'>/dev/urandom"
                     "</backend>%s</rng>" % (m, a))
        elif kind == "balloon" and not self.balloon:
            self.balloon = True
            m = rnd.choice(("virtio", "virtio", "none", "virtio-transitional"))
            self.add("<memballoon model='%s'>%s</memballoon>"
                     % (m, a if m != "none" else ""))
        elif kind == "vsock":
            self.add("<vsock model='%s'><cid auto='yes'/>%s</vsock>"
                     % (rnd.choice(("virtio", "virtio-transitional")), a))
        elif kind == "serial":
            if rnd.random() < 0.5:
                self.add("<serial type='pty'><target type='pci-serial'/>%s"
                         "</serial>" % a)
            else:
                self.add("<serial type='pty'><target type='isa-serial'/>"
                         "</serial>")
        elif kind == "console":
            self.add("<console type='pty'><target type='virtio'/></console>")
        elif kind == "channel":
            self.add("<channel type='pty'><target type='virtio' "
                     "name='org.asm.c%d'/></channel>" % len(self.devs))
        elif kind == "input":
            t = rnd.choice(("tablet", "keyboard", "mouse"))
            bus = rnd.choice(("virtio", "virtio", "usb"))
            self.add("<input type='%s' bus='%s'>%s</input>"
                     % (t, bus, a if bus == "virtio" else ""))
        elif kind == "filesystem":
            self.add("<filesystem type='mount' accessmode='%s'>"
                     "<source dir='/var/lib/asm/share'/><target dir='tag%d'/>"
                     "%s</filesystem>"
                     % (rnd.choice(("passthrough", "mapped", "squash")),
                        len(self.devs), a))
        elif kind == "shmem":
            self.add("<shmem name='shm%d'><model type='ivshmem-plain'/>"
                     "<size unit='M'>4</size>%s</shmem>" % (len(self.devs), a))
        elif kind == "panic":
            self.add("<panic model='isa'/>")
        elif kind == "pmem":
            self.max_memory = True
            self.add("<memory model='virtio-pmem' access='shared'><source>"
                     "<path>/var/lib/asm/pmem%d</path></source><target>"
                     "<size unit='MiB'>128</size></target>%s</memory>"
                     % (len(self.devs), a))
        elif kind == "nvdimm":
            self.max_memory = True
            self.numa = True
            self.add("<memory model='nvdimm'><source><path>/var/lib/asm/"
                     "nv%d</path></source><target><size unit='MiB'>128"
                     "</size><node>0</node></target></memory>"
                     % len(self.devs))
        elif kind == "graphics":
            self.add("<graphics type='vnc'/>")

    def build(self, name):
        rnd = self.rnd
        self.pci_controllers()
        for _ in range(rnd.randint(0, 6)):
            self.disk()
        for _ in range(rnd.randint(0, 4)):
            self.nic()
        for _ in range(rnd.choice((0, 0, 1, 2, 3))):
            self.controller()
        if rnd.random() < 0.35:
            self.video()
        for _ in range(rnd.randint(0, 6)):
            self.misc()
        # libvirt writes devices in its own order whatever the input's
        head = self.devs[:len([i for i in self.pci])]
        tail = self.devs[len(head):]
        rnd.shuffle(tail)
        devs = head + tail
        if rnd.random() < 0.3:
            rnd.shuffle(devs)   # controllers after the devices on them
        extra = ""
        # memory hotplug needs a NUMA node
        self.numa = self.numa or self.max_memory
        if self.max_memory:
            extra += "  <maxMemory slots='4' unit='MiB'>2048</maxMemory>\n"
        cpu = ""
        if self.numa:
            cpu = ("  <vcpu>2</vcpu>\n  <cpu>\n    <numa>\n"
                   "      <cell id='0' cpus='0' memory='128' unit='MiB'/>\n"
                   "      <cell id='1' cpus='1' memory='128' unit='MiB'/>\n"
                   "    </numa>\n  </cpu>\n")
        return ("<domain type='qemu'>\n  <name>%s</name>\n%s"
                "  <memory unit='MiB'>256</memory>\n  <os>\n"
                "    <type arch='x86_64' machine='%s'>hvm</type>\n"
                "  </os>\n%s  <devices>\n"
                "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n"
                "%s  </devices>\n</domain>\n"
                % (name, extra, self.machine, cpu,
                   "".join("    %s\n" % d for d in devs)))


def generate(seed, k, machine=None):
    """(name, machine, XML) of domain @k of @seed"""
    if machine is None:
        machine = MACHINES[k % 2]
    rnd = random.Random("asm-lv-gen:%d:%d:%s" % (seed, k, machine))
    name = "gen-%s-%d-%d" % (machine, seed, k)
    return name, machine, Gen(rnd, machine).build(name)


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write("usage: gen-domains.py OUTDIR SEED COUNT [pc|q35]\n")
        return 2
    out, seed, count = argv[1], int(argv[2]), int(argv[3])
    machine = argv[4] if len(argv) == 5 else None
    if machine not in (None,) + MACHINES:
        sys.stderr.write("gen-domains.py: machine %s is not pc or q35\n"
                         % machine)
        return 2
    os.makedirs(out, exist_ok=True)
    for k in range(count):
        name, _, text = generate(seed, k, machine)
        with open(os.path.join(out, name + ".xml"), "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
