# fabric.asm: building a fabric and changing it at run time
# (asmctl-script.md, "Fabrics"); the backend is the simulator

# 1 TiB of physical space in 2 MiB granules; windows grow 1 GiB at a time
fabric f 0 1T-1 2M window=1G
reserve f 0 1G-1
switch f sw-a bw=64000 latency=300
switch f sw-b bw=32000 latency=250
switch f sw-c bw=16000 latency=200 ports=4
switch f fw pinned table=4
window f fw 0x8000000000 0x803fffffff
expect invalid
switch f sw-a

# devices: two SR-IOV NICs and a GPU
device f nic0 sw-a 0 1M pf
sriov f nic0 8 64K
device f nic1 sw-b 0 1M pf
sriov f nic1 8 64K
device f gpu0 sw-a 1 256M
expect in-use
device f gpu1 sw-a 1 256M
vf f nic0
vf f nic0

# workloads and their partitions
workload f vm1
workload f vm2
workload f vm3
partition f p1 vm1 512M demand=20000 prefer=sw-a
map f p1 gpu0
partition f p2 vm2 64M demand=4000 max-latency=400 min-bw=40000
map f p2 nic0-vf0
partition f p3 vm3 2M prefer=fw
expect no-space
partition f p4 vm3 4M min-bw=100000
expect invalid
partition f p4 vm3 3M
expect not-found
partition f p4 vm9 2M
translate f vm1 p1+0x40
translate f vm2 p2+0x10
translate f vm3 p3
expect not-found
translate f vm1 0x20000000000

# the profiler, and a rebalance that acts on its prediction
usage f vm1 0 400M
usage f vm1 1 520M
usage f vm1 2 640M
usage f vm1 3.5 820M
predict f vm1 4
predict f vm1 0.5
rebalance f 4

# transparent migration: same virtual address, another switch
migrate f p1 sw-b
translate f vm1 p1+0x40
migrate f p1
translate f vm1 p1+0x40
grow f p1 2G
translate f vm1 p1+0x40

# VF transfer: a new VF on nic1 takes the place of nic0-vf0
transfer-vf f nic0-vf0 nic1
translate f vm2 p2+0x10

# release, then nothing is left at those addresses
release-partition f p3
expect not-found
translate f vm3 p3
expect not-found
release-partition f p3
show f
check f
verify f
