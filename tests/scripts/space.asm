# space.asm: every address-space command (asmctl-script.md, "Address
# spaces"): tuples print as their values joined by '.'

# IPv4: four 8-bit dimensions; hosts 1..254 of one network
space net 8,8,8,8
pool net 192.168.1.1..254
take net 192.168.1.254
take-any net
take-any net 192.168.1.100..200
take-box net 192.168.1.10..19
find-any net
expect in-use
take net 192.168.1.15
expect in-use
take-box net 192.168.1.19..20
expect invalid
take net 10.0.0.1
expect invalid
pool net 192.168.1.0..1
probe net 192.168.1.15
probe net 192.168.1.20
probe net 10.0.0.1
release net 192.168.1.15
expect not-found
release net 192.168.1.15
list net

# PCI-like: domain 16 bits, bus 8, slot 5, function 3; ':' and '.' both
# separate items, '*' is a whole dimension, a lone '*' the whole space
space slots 16,8,5,3
pool slots 0:0:1..31:*
pool slots 0:1:0:*
take-box slots 0:0:3:*
find-any slots * whole=1
find-any slots 0:0:2..31:* whole=1
take-any slots 0:0:3..4:*
take-any slots 0:1:*:*
expect no-space
find-any slots 0:0:3:* whole=1

# SCSI: controller, bus, unit
space scsi 4,4,8
pool scsi 0:0:0..6
pool scsi 0:0:8..15
take-any scsi
take scsi 0:0:8
probe scsi 0:0:7

# clones are independent
clone net net2
take-any net2
show net2
show net
check
