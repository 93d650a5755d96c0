# a workload ends: its partitions' names go with it, and using one fails
fabric f 0 1T-1 2M
switch f sw-a
workload f vm1
partition f p1 vm1 2M
end-workload f vm1
shrink f p1 2M
