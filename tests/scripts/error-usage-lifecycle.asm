# a lifecycle command with a missing argument is a script error
fabric f 0 1T-1 2M

migrate-workload f
