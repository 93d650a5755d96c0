# a switch with a partition on it is not removed; the code ends the message
fabric f 0 1T-1 2M
switch f sw-a
workload f vm1
partition f p1 vm1 2M
remove-switch f sw-a
