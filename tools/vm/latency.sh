#!/usr/bin/env bash
# Guest side of `make latency`: times each step a 64-byte message takes through rxe, for
# perftest's ib_send_lat and for an AF_IB SOCK_SEQPACKET ping-pong on the same rxe pair,
# with the function tracer on a handful of rxe functions only (the same ones for both,
# so the tracer's own cost is alike). tools/bench/latency_stages.py turns the traces into
# OUTDIR/latency.md. Sourced by guest.sh.
# shellcheck shell=bash

# rxe functions whose entry marks a step; see latency_stages.py for what each one means.
LATENCY_MARKS="rxe_post_send rxe_sender rxe_xmit_packet rxe_udp_encap_recv rxe_receiver rxe_completer rxe_cq_post"

# Starts "$@" in host b on CPU 1 and gives it SECS to listen; its pid in latency_server_pid.
latency_server() {
	local secs=$1
	shift
	ip netns exec b taskset -c 1 "$@" > /dev/null 2>&1 &
	latency_server_pid=$!
	sleep "$secs"
}

# Runs "$@" in host a on CPU 0 with the tracer on, keeps the trace as OUTDIR/latency/NAME,
# then stops the server.
latency_client() {
	local name=$1
	shift
	: > $tr/trace
	echo 1 > $tr/tracing_on
	ip netns exec a taskset -c 0 "$@" > /dev/null 2>&1
	echo 0 > $tr/tracing_on
	cp $tr/trace "$outdir/latency/$name"
	kill "$latency_server_pid" 2>/dev/null
	wait "$latency_server_pid" 2>/dev/null
}

latency_run() {
	local outdir=$1 tr=/sys/kernel/tracing rounds=${LATENCY_ROUNDS:-6} n=${LATENCY_ITERATIONS:-300}
	local sb=$top/tools/bench/build/stream_bench f r
	insmod "$INFINISOCK_KO" || return 1
	[ -d $tr/events ] || mount -t tracefs nodev $tr || return 1
	echo 0 > $tr/tracing_on
	echo 20000 > $tr/buffer_size_kb
	: > $tr/set_ftrace_filter
	for f in $LATENCY_MARKS; do
		echo "$f" >> $tr/set_ftrace_filter || { echo "# no traceable $f"; return 1; }
	done
	echo function > $tr/current_tracer
	mkdir -p "$outdir/latency"
	export STREAM_BENCH_MAX_MSG=64
	for r in $(seq "$rounds"); do
		latency_server 2 ib_send_lat -d rxeb -F -s 64 -n "$n" -p $((26000 + r))
		latency_client "ib_send_lat-$r.txt" ib_send_lat -d rxea -F -s 64 -n "$n" -p $((26000 + r)) "$HOST_B4"
		latency_server 1 "$sb" server ibmsg $((26100 + r))
		latency_client "seqpacket-$r.txt" "$sb" pingpong ibmsg "$HOST_B4" $((26100 + r)) "$n" 64 poll
	done
	echo nop > $tr/current_tracer
	python3 "$top/tools/bench/latency_stages.py" "$outdir/latency" > "$outdir/latency.md" || return 1
	cat "$outdir/latency.md"
}
