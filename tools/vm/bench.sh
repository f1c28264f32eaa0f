#!/usr/bin/env bash
# Guest side of `make bench`: loads the module and runs the benchmark suite
# (tools/bench/suite.py) on the VM's rxe pair; its samples go to OUTDIR/bench.json,
# which run.sh turns into the report on the host. Sourced by guest.sh.
# shellcheck shell=bash

bench_run() {
	local outdir=$1
	insmod "$INFINISOCK_KO" || return 1
	python3 "$top/tools/bench/suite.py" "$outdir/bench.json" ${BENCH_QUICK:+--quick} ${BENCH_ONLY:+--only "$BENCH_ONLY"} 2>&1 | tee "$outdir/bench-raw.txt"
	[ -s "$outdir/bench.json" ]
}
