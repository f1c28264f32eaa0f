#!/usr/bin/env bash
# Guest side of `make bench`: SDP beside its anchors, in one VM run, on one rxe pair.
#   raw verbs: ib_write_bw (64 KiB) and ib_send_lat (64 B), perftest
#   TCP:       the same stream_bench over the same veth
#   SDP:       stream_bench with IPPROTO_SDP
# Prints a table of figures and ratios; writes OUTDIR/bench.txt. Sourced by guest.sh.
# shellcheck shell=bash

bench_run() {
	local outdir=$1 bin=$top/tools/bench/build/stream_bench secs=${BENCH_SECONDS:-5} iters=${BENCH_ITERS:-2000}
	insmod "$INFINISOCK_KO" || return 1
	local log=$outdir/bench-raw.txt
	: > "$log"

	# perftest: server in b, client in a; its own TCP side channel goes over the veth.
	perf() { # perf TOOL ARGS... -> the client's output
		ip netns exec b "$1" -d rxeb -F "${@:2}" >> "$log" 2>&1 &
		local srv=$!
		sleep 3
		ip netns exec a "$1" -d rxea -F "${@:2}" "$HOST_B4" 2>&1 | tee -a "$log"
		wait $srv
	}
	local write_bw send_lat
	write_bw=$(perf ib_write_bw -s 65536 -n "${BENCH_WRITES:-500}" | awk '$1 == 65536 {print $4}')
	send_lat=$(perf ib_send_lat -s 64 -n "$iters" | awk '$1 == 64 {print $5}')

	ip netns exec b "$bin" server sdp 5001 >> "$log" 2>&1 &
	local sdp_srv=$!
	ip netns exec b "$bin" server tcp 5002 >> "$log" 2>&1 &
	local tcp_srv=$!
	sleep 1
	field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }
	local sdp_bw tcp_bw sdp_lat tcp_lat
	sdp_bw=$(ip netns exec a "$bin" bulk sdp "$HOST_B4" 5001 "$secs" 65536 | tee -a "$log" | field mib_per_s)
	tcp_bw=$(ip netns exec a "$bin" bulk tcp "$HOST_B4" 5002 "$secs" 65536 | tee -a "$log" | field mib_per_s)
	sdp_lat=$(ip netns exec a "$bin" pingpong sdp "$HOST_B4" 5001 "$iters" 64 | tee -a "$log" | field half_rtt_median_us)
	tcp_lat=$(ip netns exec a "$bin" pingpong tcp "$HOST_B4" 5002 "$iters" 64 | tee -a "$log" | field half_rtt_median_us)
	kill $sdp_srv $tcp_srv 2>/dev/null
	wait 2>/dev/null

	ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
	{
		echo "# SDP beside raw verbs and TCP, one VM run ($(uname -r), TCG, 2 vCPUs, veth MTU $(ip -n a -o link show va | sed -n 's/.*mtu \([0-9]*\).*/\1/p'))"
		echo "| bulk, 64 KiB writes, ${secs} s | MiB/s | ratio to ib_write_bw |"
		echo "|---|---|---|"
		echo "| ib_write_bw 64 KiB | ${write_bw:-n/a} | 1.00 |"
		echo "| SDP (IPPROTO_SDP) | ${sdp_bw:-n/a} | $(ratio "$sdp_bw" "$write_bw") |"
		echo "| TCP, same veth | ${tcp_bw:-n/a} | $(ratio "$tcp_bw" "$write_bw") |"
		echo
		echo "| 64 B latency (half round trip, median, $iters rounds) | us | ratio to ib_send_lat |"
		echo "|---|---|---|"
		echo "| ib_send_lat 64 B (typical) | ${send_lat:-n/a} | 1.00 |"
		echo "| SDP (IPPROTO_SDP) | ${sdp_lat:-n/a} | $(ratio "$sdp_lat" "$send_lat") |"
		echo "| TCP, same veth | ${tcp_lat:-n/a} | $(ratio "$tcp_lat" "$send_lat") |"
	} | tee "$outdir/bench.txt"
	[ -n "$sdp_bw" ] && [ -n "$sdp_lat" ]
}
