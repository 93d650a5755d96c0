# faults.asm: fault injection in the simulated backend, save and load
# (asmctl-script.md, "Faults" and "Saving"): a failed operation is undone
# exactly, and the hardware still matches the model

fabric f 0 1T-1 2M window=1G
switch f sw-a bw=64000 latency=300
switch f sw-b bw=32000 latency=250
device f gpu0 sw-a 0 256M
device f nic0 sw-a 1 1M pf
sriov f nic0 4 64K
device f nic1 sw-b 0 1M pf
sriov f nic1 4 64K
vf f nic0
workload f vm1
workload f vm2
partition f p1 vm1 512M prefer=sw-a
map f p1 gpu0
partition f p2 vm2 64M prefer=sw-a
map f p2 nic0-vf0
calls f

# one call fails: the migration is rolled back
fail f call 5
expect backend
migrate f p1 sw-b
verify f
translate f vm1 p1+0x40

# every translation-table update fails until the kind is cleared
fail f kind xlat
expect backend
grow f p1 1G
expect backend
transfer-vf f nic0-vf0 nic1
fail f kind xlat off
grow f p1 1G
translate f vm1 p1+0x40
fail f kind vf
expect backend
vf f nic0
clear f
vf f nic0
verify f

# a crash: every call after the next 2 fails, undo included, until clear
crash f 2
expect backend
migrate f p1 sw-b
clear f
expect failed
verify f

# save the state; load it as a model-only fabric (no backend)
save f state.json
load g state.json
show g
translate g vm1 0x10000000040
check g
expect unsupported
fail g call 1
expect unsupported
verify g
expect not-found
load h missing.json
expect failed
save f no-such-directory/state.json
