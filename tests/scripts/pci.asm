# pci.asm: every PCI bus-set command (asmctl-script.md, "PCI bus sets"),
# with libvirt's meaning; addresses print as DDDD:BB:SS.F

# a q35 machine: pcie-root, root ports, a dmi-to-pci-bridge, a pci-bridge
pci q35
controller q35 0 pcie-root
controller q35 1 pcie-root-port 0000:00:01.0
controller q35 2 pcie-root-port next
controller q35 3 dmi-to-pci-bridge next
controller q35 4 pci-bridge next
expect in-use
controller q35 5 pcie-root-port 0000:00:01.0
expect invalid
controller q35 5 pcie-root 0000:00:03.0
expect not-found
controller q35 5 pcie-root-port 0000:09:00.0

# automatic placement, libvirt's order
reserve-next q35 pcie-device,auto
reserve-next q35 pcie-device,auto
reserve-next q35 pci-device,auto,hotplug
expect no-space
reserve-next q35 pcie-device,auto
expect invalid
reserve-next q35 auto

# growth: add a root port when there is no room
autogrow q35 pcie-root-port
reserve-next q35 pcie-device,auto
reserve-next q35 pcie-device,auto
autogrow q35 off
expect no-space
reserve-next q35 pcie-device,auto

# exact addresses, from configuration or not
reserve q35 0000:00:1f.2 pcie-device
reserve q35 0000:00:1f.3 pcie-device
expect in-use
reserve q35 0000:00:1f.3 pcie-device
expect invalid
reserve q35 0000:00:1e.0 pci-device
reserve q35 0000:00:1e.0 pci-device config
reserve-slot q35 0000:04:05.0 pci-device
expect in-use
reserve-slot q35 0000:04:05.0 pci-device
release q35 0000:00:1f.3
expect not-found
release q35 0000:00:1f.3
expect in-use
release q35 0000:00:01.0
probe q35 0000:00:1f.0
probe q35 0000:00:01.0
probe q35 0000:04:05.3
probe q35 0000:09:00.0

# hotplug and isolation groups
hotplug q35 4 off
expect invalid
reserve q35 0000:04:06.0 pci-device,hotplug
hotplug q35 4 on
reserve q35 0000:04:06.0 pci-device,hotplug
controller q35 7 pcie-root-port next
group q35 7 7 locked
reserve-next q35 pcie-device,auto group=7
expect no-space
reserve-next q35 pcie-device,auto group=7

# a second domain, established by a root with index 8
controller q35 8 pcie-root
controller q35 9 pcie-root-port next domain=8
reserve q35 0008:09:00.0 pcie-device
list q35
show q35

# copies are independent
clone q35 dry
controller dry 10 pcie-root-port next
reserve-next dry pcie-device,auto
show dry
list q35
check
