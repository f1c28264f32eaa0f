#!/usr/bin/env bash
# Boots the test kernel under QEMU (virtme-ng, TCG: nested KVM does not work on these
# machines) with the host's root over 9p, and runs tools/vm/guest.sh MODE inside:
#   run.sh test    build the two-host topology, load the module, run every VM test
#   run.sh demo    build the topology, load the module and show it at work (demo.py)
#   run.sh bench   the benchmark suite (tools/bench/suite.py), release kernel
#   run.sh latency where a SEQPACKET message's time goes beside ib_send_lat's, trace kernel
# Exits non-zero on a failed test or a kernel splat. Results land in out/vm/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"

mode=${1:-test}
flavour=${FLAVOUR:-debug}
kdir=$(cat "$TOP/out/$flavour/kdir" 2>/dev/null) || die "no module built for $flavour: run 'make module' first"
image=$kdir/arch/x86/boot/bzImage
[ -f "$image" ] || die "kernel image $image missing"
outdir=$TOP/out/vm
rm -rf "$outdir" && mkdir -p "$outdir"

# What of the guest's console reaches the terminal: TAP for the tests, the benchmark's
# tables; the demo from its first line to its last, plainly.
console_filter() {
	if [ "$mode" = demo ]; then
		sed -un '/^== InfiniSock demo/,/^== end of demo/p'
	else
		grep --line-buffered -aE '^(#|ok |not ok |TAP |1\.\.|Bail|==|\|)'
	fi
}

say "booting $(cat "$kdir/.infinisock-built") under TCG, mode $mode"
start=$(date +%s)
# The guest writes its verdict to out/vm/verdict; the VM's own exit code is not relied on.
# sdp_scale holds 2,000 connections (both ends) at once on the debug kernel, the
# benchmark's scale test 10,000 of each kind that fits (64 KiB each on SDP's shared
# receive queues, both ends; SMC-R's buffers more): more memory.
memory=3G
[ "$mode" = bench ] && memory=10G
# A stuck guest is stopped after VM_TIMEOUT seconds (the long fuzz target raises it).
# The test suite takes about an hour under TCG on 2 cores, and the bed drifts (3,155 s
# and 3,518 s in two runs of nearly the same suite): 4,500 s still catches a stuck
# guest and, with the kernel cached, keeps `make check` within CI's 90 minutes.
PATH=$(dirname "$VNG"):$PATH timeout "${VM_TIMEOUT:-4500}" "$VNG" --run "$image" --disable-kvm --user root --cpus 2 --memory $memory \
	--rwdir "$outdir" --append "kunit.enable=1 kunit.autorun=1 kmemleak=on log_buf_len=4M" \
	--verbose --exec "INFINISOCK_TESTS='${INFINISOCK_TESTS:-}' INFINISOCK_REPEAT='${INFINISOCK_REPEAT:-}' FUZZ_CALLS='${FUZZ_CALLS:-}' FUZZ_WORKERS='${FUZZ_WORKERS:-}' FUZZ_SEED='${FUZZ_SEED:-}' PEER_FUZZ_MESSAGES='${PEER_FUZZ_MESSAGES:-}' PEER_FUZZ_SEED='${PEER_FUZZ_SEED:-}' SOAK_SEED='${SOAK_SEED:-}' SOAK_CONNS='${SOAK_CONNS:-}' INFINISOCK_SCALE_N='${INFINISOCK_SCALE_N:-}' BENCH_QUICK='${BENCH_QUICK:-}' BENCH_ONLY='${BENCH_ONLY:-}' LATENCY_ROUNDS='${LATENCY_ROUNDS:-}' bash $here/guest.sh $mode $outdir $flavour" 2>&1 |
	tee "$outdir/console.log" | console_filter || true
say "VM run took $(($(date +%s) - start))s"
verdict=$(cat "$outdir/verdict" 2>/dev/null || echo "no verdict (the VM did not finish)")
say "verdict: $verdict"
if [ "$verdict" != PASS ] && ! grep -q . "$outdir/dmesg.txt" 2>/dev/null; then
	# The guest died before it could save its kernel log: show how it ended.
	say "kernel console, last lines (all of it in out/vm/console.log):"
	tail -n 80 "$outdir/console.log"
fi
if [ "$mode" = bench ] && [ -s "$outdir/bench.json" ]; then
	"$TOOLS_PREFIX/venv/bin/python3" "$TOP/tools/bench/report.py" "$outdir/bench.json" "$outdir" > /dev/null &&
		say "report: $outdir/bench.md (plots beside it), samples: $outdir/bench.json"
fi
[ "$verdict" = PASS ]
