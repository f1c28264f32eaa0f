#!/usr/bin/env bash
# Runs inside the test VM: guest.sh MODE OUTDIR FLAVOUR. Prints TAP and writes PASS or
# FAIL to OUTDIR/verdict.
set -u
mode=$1 outdir=$2 flavour=$3
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
export INFINISOCK_KO=$top/out/$flavour/infinisock.ko
export INFINISOCK_TOP=$top
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
echo FAIL > "$outdir/verdict"

mount -t debugfs none /sys/kernel/debug 2>/dev/null
. "$here/topology.sh"
t0=$SECONDS
topology_up || { echo "Bail out! two-host topology failed"; exit 1; }
echo "# two-host topology up in $((SECONDS - t0))s (guest uptime $(cut -d' ' -f1 /proc/uptime)s)"
# Splat patterns: any of these in the kernel log while the tests run fails the run.
SPLATS='BUG:|WARNING:|KASAN|UBSAN|Oops|general protection|Call Trace|possible (recursive|circular) locking|inconsistent lock state|suspicious RCU|sleeping function called from invalid context|soft lockup|hung_task|refcount_t:|list_(add|del) corruption|ODEBUG'
# The boot log (before the module or any test ran) is kept and reported, but cannot be
# the module's doing: under TCG the kernel itself now and then reports an early-boot
# KASAN access in its interrupt setup. The tests are judged on what follows.
dmesg > "$outdir/dmesg-boot.txt"
if grep -qE "$SPLATS" "$outdir/dmesg-boot.txt"; then
	echo "# note: kernel splat during boot, before any test (out/vm/dmesg-boot.txt):"
	grep -E "$SPLATS" "$outdir/dmesg-boot.txt" | head -3 | sed 's/^/#   /'
fi
dmesg -C
# kmemleak judges what is allocated from here on.
echo clear > /sys/kernel/debug/kmemleak 2>/dev/null

if [ "$mode" = demo ]; then
	# The demo prints plainly (run.sh shows everything from its first line on): kernel
	# messages stay in the log instead of the console.
	dmesg -n 1
	insmod "$INFINISOCK_KO" || exit 1
	python3 "$here/demo.py"
	demo=$?
	dmesg > "$outdir/dmesg.txt"
	if grep -qE "$SPLATS" "$outdir/dmesg.txt"; then
		echo "== kernel splat during the demo (out/vm/dmesg.txt):"
		grep -E "$SPLATS" "$outdir/dmesg.txt" | head -5
		demo=1
	fi
	[ $demo = 0 ] && echo PASS > "$outdir/verdict"
	echo "== end of demo"
	exit 0
fi

if [ "$mode" = bench ]; then
	. "$here/bench.sh"
	bench_run "$outdir" && echo PASS > "$outdir/verdict"
	exit 0
fi

if [ "$mode" = latency ]; then
	. "$here/latency.sh"
	latency_run "$outdir" && echo PASS > "$outdir/verdict"
	exit 0
fi

# TAP over every test program: kselftest binaries print their own nested TAP.
tests=(kunit)
for t in "$top"/selftests/build/*; do
	[ -f "$t" ] && [ -x "$t" ] && [ "$(basename "$t")" != sdp_fuzz ] && tests+=("$t")
done
for t in "$top"/selftests/infinisock/*.sh; do tests+=("$t"); done
# The fuzzer runs last: what it does to the shared hosts' fabric must not decide
# another test's outcome.
tests+=("$top/selftests/build/sdp_fuzz" kernel_log)
# INFINISOCK_TESTS (a regular expression over test names) narrows a run while
# developing; the load and log checks always run.
if [ -n "${INFINISOCK_TESTS:-}" ]; then
	picked=(kunit)
	for t in "${tests[@]}"; do
		case $(basename "$t") in kunit|kernel_log) ;; *) [[ $(basename "$t") =~ $INFINISOCK_TESTS ]] && picked+=("$t") ;; esac
	done
	# INFINISOCK_REPEAT=N runs the picked tests N times over (hunting a flaky one).
	tests=()
	for _ in $(seq "${INFINISOCK_REPEAT:-1}"); do tests+=("${picked[@]:1}"); done
	tests=(kunit "${tests[@]}" kernel_log)
fi
echo "TAP version 13"
echo "1..${#tests[@]}"
n=0 why=()

# Every test case of every suite must have run and passed: a suite whose cases did not
# run (KUnit disabled, autorun off) still says "ok" for itself, so count the cases.
kunit() {
	insmod "$INFINISOCK_KO" || return 1
	local suite results planned passed rc=0
	for suite in infinisock_ffi infinisock_sockets infinisock_tunables infinisock_verbs infinisock_lists; do
		results=/sys/kernel/debug/kunit/$suite/results
		[ -r "$results" ] || { echo "# $suite: no results"; rc=1; continue; }
		sed 's/^/# /' "$results"
		planned=$(sed -n 's/^    1\.\.\([0-9]*\)$/\1/p' "$results")
		passed=$(grep -Ec '^    ok [0-9]+ ' "$results")
		if grep -q 'not ok' "$results" || [ -z "$planned" ] || [ "$passed" != "$planned" ] ||
			! grep -Eq "^ok [0-9]+ $suite" "$results"; then
			echo "# $suite: ${passed:-0} of ${planned:-?} cases passed"
			rc=1
		fi
	done
	return $rc
}

loaded() { grep -q '^infinisock ' /proc/modules; }

# Any kernel splat fails the run, wherever it came from.
kernel_log() {
	local rc=0 try fin=60 t h
	# Every socket is closed by now: the module must unload once their connections
	# are gone. A closed connection whose peer went without a word (its Abort or
	# DREQ lost) waits for its fin timeout, as TCP's FIN_WAIT2 orphans do: up to
	# net.infinisock.sdp_fin_timeout, then reset. Beyond that, something is stuck.
	for h in a b; do
		t=$(ip netns exec $h sysctl -n net.infinisock.sdp_fin_timeout 2>/dev/null) && [ "$t" -gt "$fin" ] && fin=$t
	done
	for try in $(seq $((fin + 15))); do
		loaded || break
		rmmod infinisock 2>/dev/null && break
		sleep 1
	done
	if [ "$try" -gt 1 ] && ! loaded; then
		echo "# the module unloaded after $try s: connections were still closing"
	fi
	if loaded; then
		echo "# rmmod infinisock failed: $(grep '^infinisock ' /proc/modules)"
		rc=1
		# What still holds it: each host's SDP sockets, and the processes left.
		for h in a b; do
			echo "# host $h, /proc/net/infinisock/sdp:"
			ip netns exec $h cat /proc/net/infinisock/sdp 2>&1 | head -20 | sed 's/^/#   /'
		done
		echo "# sockets open in processes: $(ls -l /proc/[0-9]*/fd 2>/dev/null | grep -c 'socket:'); processes left:"
		ps -eo pid,stat,args --no-headers | grep -vE '\[|ps -eo|grep|sed|head' | head -20 | sed 's/^/#   /'
	fi
	if [ -w /sys/kernel/debug/kmemleak ]; then
		echo scan > /sys/kernel/debug/kmemleak; sleep 6; echo scan > /sys/kernel/debug/kmemleak
		cat /sys/kernel/debug/kmemleak > "$outdir/kmemleak.txt"
	else
		echo "# kmemleak not available"; : > "$outdir/kmemleak.txt"
	fi
	dmesg > "$outdir/dmesg.txt"
	if grep -nE "$SPLATS" "$outdir/dmesg.txt"; then
		echo "# kernel splat in dmesg (out/vm/dmesg.txt)"; rc=1
	fi
	if [ -s "$outdir/kmemleak.txt" ]; then
		echo "# kmemleak reports leaks:"; sed 's/^/# /' "$outdir/kmemleak.txt" | head -60; rc=1
	fi
	return $rc
}

for t in "${tests[@]}"; do
	n=$((n + 1))
	name=$(basename "$t")
	t0=$SECONDS
	"$t" > "$outdir/$name.log" 2>&1
	rc=$?
	echo "# $name took $((SECONDS - t0))s" >> "$outdir/$name.log"
	# What the test left holding the module (its sockets, and their connections
	# still closing): kernel_log's unload fails if something stays, and this says who.
	if loaded; then
		echo "# after $name: module references $(awk '$1 == "infinisock" {print $3}' /proc/modules), SDP sockets$(for h in a b; do printf ' %s:%s' $h "$(ip netns exec $h tail -n +2 /proc/net/infinisock/sdp 2>/dev/null | wc -l)"; done)" >> "$outdir/$name.log"
	fi
	sed 's/^/# /' "$outdir/$name.log"
	if [ $rc -eq 0 ]; then echo "ok $n $name"; else echo "not ok $n $name"; why+=("$name"); fi
done
# What failed, again at the end, where a reader of the run's last lines looks: each
# failed test's failing cases and checks (the whole log is above and in out/vm/).
for name in "${why[@]}"; do
	echo "# why $name failed:"
	grep -aE 'FAIL|[Ff]ailed|not ok|Expected|Assert|timed out|Bail out|splat|leak' "$outdir/$name.log" | head -n 30 | sed 's/^/#   /'
done
echo "# $((n - ${#why[@]})) passed, ${#why[@]} failed"
[ ${#why[@]} -eq 0 ] && echo PASS > "$outdir/verdict"
exit 0
