# lifecycle.asm: everything that joins a fabric can leave it
# (asmctl-script.md, "Taking things away"): each command once, and each
# refusal with its code; the backend is the simulator

fabric f 0 1T-1 2M window=1G
switch f sw-a bw=64000 latency=300
switch f sw-b bw=32000 latency=250
switch f sw-c bw=16000 latency=200
device f nic0 sw-a 0 1M pf
sriov f nic0 4 64K
device f gpu0 sw-a 1 256M
device f nvme0 sw-b 0 16K
vf f nic0
vf f nic0
workload f vm1
workload f vm2
partition f p1 vm1 512M demand=20000 prefer=sw-a
map f p1 gpu0
partition f p2 vm2 64M prefer=sw-a
map f p2 nic0-vf0
partition f p3 vm2 32M prefer=sw-b
map f p3 nvme0
root-map f

# unmap: the addresses reach no device; the device stays bound
translate f vm2 p2+0x10
unmap f p2 nic0-vf0
translate f vm2 p2+0x10
expect not-found
unmap f p2 nic0-vf0
expect not-found
unmap f p2 nvme0
map f p2 nic0-vf0

# VFs and devices leave only when nothing maps them
expect in-use
destroy-vf f nic0-vf0
expect invalid
destroy-vf f gpu0
destroy-vf f nic0-vf1
expect not-found
destroy-vf f nic0-vf1
expect in-use
remove-device f gpu0
expect invalid
remove-device f nic0-vf0
expect in-use
remove-device f nic0
expect not-found
remove-device f sound0

# shrink in place: never below a mapped BAR
expect in-use
shrink f p1 128M
expect invalid
shrink f p1 3M
expect invalid
shrink f p1 1G
shrink f p1 256M
translate f vm1 p1+0x40
expect not-found
shrink f p9 2M

# drain: all partitions move, or none
expect invalid
drain f sw-a
unmap f p2 nic0-vf0
destroy-vf f nic0-vf0
drain f sw-a
translate f vm1 p1+0x40
root-map f
show f
partition f p4 vm1 2M prefer=sw-a   # placed elsewhere, even when preferred
release-partition f p4
expect invalid
migrate f p3 sw-a
expect not-found
drain f sw-z

# remove-switch: only when nothing is left on it
expect in-use
remove-switch f sw-a
expect in-use
remove-switch f sw-b
remove-device f nic0
remove-switch f sw-a
expect not-found
remove-switch f sw-a
expect not-found
drain f sw-a

# a workload moves as one
migrate-workload f vm2 sw-c
migrate-workload f vm2
expect no-space
migrate-workload f vm1 sw-c
expect not-found
migrate-workload f vm9

# the profiler reads the switches' usage counters
sample f 1
expect invalid
sample f 1
sample f 2.5
rebalance f 4

# a workload ends: its partitions go, and so do their names
end-workload f vm2
expect not-found
translate f vm2 0x20000000000
expect not-found
translate f vm1 p2
expect not-found
release-partition f p3
expect not-found
end-workload f vm2
release-partition f p1
expect not-found
grow f p1 1G
workload f vm2
partition f p1 vm2 2M
translate f vm2 p1

# a loaded fabric has its root map, but no backend to read usage from
save f state.json
load g state.json
root-map g
expect unsupported
sample g 3

end-workload f vm1
end-workload f vm2
root-map f
show f
check
verify f
