#!/usr/bin/env bash
# etcd-cluster.sh: a 3-member etcd cluster on 127.0.0.1, for the etcd tests
#
# Usage: etcd-cluster.sh start DIR [BASE_PORT]   start members 1..3 in DIR
#        etcd-cluster.sh stop DIR [MEMBER]       stop all, or member 1..3
#        etcd-cluster.sh resume DIR MEMBER       start a stopped member again
#        etcd-cluster.sh endpoints DIR           print the client URLs
#
# Member i listens for clients on BASE_PORT + i (default 23790 + i) and for
# peers on BASE_PORT + 10 + i, only on 127.0.0.1.  Data, logs and pids stay
# in DIR.  start waits until the cluster has a leader and answers.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

cmd=${1:?usage: etcd-cluster.sh start|stop|resume|endpoints DIR}
dir=${2:?usage: etcd-cluster.sh start|stop|resume|endpoints DIR}
mkdir -p "$dir"

if [ "$cmd" = start ]; then
  echo "${3:-23790}" >"$dir/base"
fi
base=$(cat "$dir/base" 2>/dev/null || echo 23790)

client() { echo "http://127.0.0.1:$((base + $1))"; }
peer() { echo "http://127.0.0.1:$((base + 10 + $1))"; }
cluster="m1=$(peer 1),m2=$(peer 2),m3=$(peer 3)"

start_member() {
  local i=$1 state=$2
  etcd --name "m$i" --data-dir "$dir/m$i.etcd" \
    --listen-client-urls "$(client "$i")" --advertise-client-urls "$(client "$i")" \
    --listen-peer-urls "$(peer "$i")" --initial-advertise-peer-urls "$(peer "$i")" \
    --initial-cluster "$cluster" --initial-cluster-state "$state" \
    --initial-cluster-token asm-test \
    --heartbeat-interval 50 --election-timeout 500 \
    >>"$dir/m$i.log" 2>&1 &
  echo $! >"$dir/m$i.pid"
}

endpoints() { echo "$(client 1),$(client 2),$(client 3)"; }

case "$cmd" in
  start)
    for i in 1 2 3; do start_member "$i" new; done
    for _ in $(seq 100); do
      if ETCDCTL_API=3 etcdctl --endpoints "$(endpoints)" endpoint health \
           >/dev/null 2>&1; then
        endpoints
        exit 0
      fi
      sleep 0.1
    done
    echo "etcd-cluster.sh: the cluster did not become healthy; see $dir/m*.log" >&2
    exit 1
    ;;
  stop)
    for i in ${3:-1 2 3}; do
      if [ -f "$dir/m$i.pid" ]; then
        kill "$(cat "$dir/m$i.pid")" 2>/dev/null || true
        while kill -0 "$(cat "$dir/m$i.pid")" 2>/dev/null; do sleep 0.05; done
        rm -f "$dir/m$i.pid"
      fi
    done
    ;;
  resume)
    start_member "${3:?member}" existing
    ;;
  endpoints)
    endpoints
    ;;
  *)
    echo "etcd-cluster.sh: unknown command $cmd" >&2
    exit 2
    ;;
esac
