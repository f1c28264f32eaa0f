#!/usr/bin/env bash
# Guest side of `make bench`: loads the module and runs the benchmark suite
# (tools/bench/suite.py) on the VM's rxe pair; its samples go to OUTDIR/bench.json,
# which run.sh turns into the report on the host. Sourced by guest.sh.
# shellcheck shell=bash

bench_run() {
	local outdir=$1
	insmod "$INFINISOCK_KO" || return 1
	# 10,000 connections per side in the scale test, every end of them in this VM,
	# each end with a thread of the benchmark's.
	ulimit -n 32768
	sysctl -qw kernel.pid_max=131072 kernel.threads-max=131072 vm.max_map_count=262144
	python3 "$top/tools/bench/suite.py" "$outdir/bench.json" ${BENCH_QUICK:+--quick} ${BENCH_ONLY:+--only "$BENCH_ONLY"} 2>&1 | tee "$outdir/bench-raw.txt"
	# What is left once every tool has stopped: nothing should be.
	local h
	for h in a b; do
		echo "# after the suite, host $h: $(($(ip netns exec $h cat /proc/net/infinisock/sdp | wc -l) - 1))" \
			"SDP sockets, $(ip netns pids $h | wc -l) processes"
	done
	[ -s "$outdir/bench.json" ]
}
