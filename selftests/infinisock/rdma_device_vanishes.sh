#!/usr/bin/env bash
# An AF_IB connection busy with one-sided RDMA (regions registered on both ends, RDMA
# WRITEs in flight from a registered region and from pinned pages) loses an RDMA
# device: first the target's, then the initiator's own. Both ends must return an
# error, every operation posted must be reported on the initiator's error queue, and
# the initiator's pinned memory (VmPin) must return to what it was before it
# registered; the kernel_log step then looks for splats and kmemleak reports.
# Uses hosts of its own (netns ra1/rb1, then ra2/rb2) so the shared topology stays
# intact.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$HELPERS/af_ib_rdma_peer

tgt= ini= nsa= nsb=
cleanup() {
	kill $tgt $ini 2>/dev/null
	[ -n "$nsa" ] && ip netns del "$nsa" 2>/dev/null
	[ -n "$nsb" ] && ip netns del "$nsb" 2>/dev/null
}
trap cleanup EXIT

# run_case N SIDE: on fresh hosts ra<N> (initiator, device rxea<N>) and rb<N> (target,
# device rxeb<N>), deletes SIDE's device (a or b) while the RDMA runs.
run_case() {
	local n=$1 side=$2 tgt_out ini_out dev
	nsa=ra$n nsb=rb$n dev=rxe$side$n
	# A namespace cannot be made while an rxe device whose netdev is gone is still
	# registered (ib_core fails to give it a compat device there): wait for the
	# previous case's devices to go.
	for _ in $(seq 60); do
		rdma link show | grep -q 'rxe[ab][0-9]' || break
		sleep 0.5
	done
	ip netns add $nsa && ip netns add $nsb || fail "netns"
	ip link add dva$n netns $nsa type veth peer name dvb$n netns $nsb || fail "veth"
	ip -n $nsa addr add 10.79.$n.1/24 dev dva$n && ip -n $nsb addr add 10.79.$n.2/24 dev dvb$n || fail "addr"
	for h in a b; do ip -n r$h$n link set dev lo up; ip -n r$h$n link set dev dv$h$n up; done
	ip netns exec $nsa rdma link add rxea$n type rxe netdev dva$n || fail "rxea$n"
	ip netns exec $nsb rdma link add rxeb$n type rxe netdev dvb$n || fail "rxeb$n"
	for _ in 1 2 3 4 5; do ip netns exec $nsa ping -c1 -W5 10.79.$n.2 > /dev/null && break; done

	tgt_out=$(mktemp) ini_out=$(mktemp)
	ip netns exec $nsb "$PEER" target 10.79.$n.2 7005 > "$tgt_out" &
	tgt=$!
	wait_output "$tgt_out" listening
	ip netns exec $nsa "$PEER" initiator 10.79.$n.2 7005 > "$ini_out" &
	ini=$!
	for _ in $(seq 120); do grep -q running "$ini_out" && break; sleep 0.5; done
	grep -q running "$ini_out" || fail "no RDMA completed before the removal: $(cat "$ini_out")"
	sleep 1
	ip netns exec r$side$n rdma link delete "$dev" || fail "rdma link delete $dev"
	dmesg | grep -q "infinisock: rdma device $dev removed" || fail "removal of $dev not seen"

	# Both ends must give up within a minute.
	for _ in $(seq 120); do
		kill -0 $tgt 2>/dev/null || kill -0 $ini 2>/dev/null || break
		sleep 0.5
	done
	kill -0 $tgt 2>/dev/null && fail "$dev removed: the target is still blocked"
	kill -0 $ini 2>/dev/null && fail "$dev removed: the initiator is still running"
	echo "# $dev removed: target: $(cat "$tgt_out" | tail -1)"
	echo "# $dev removed: initiator: $(cat "$ini_out" | tail -1)"
	grep -Eq '^(error E[A-Z]+|eof)$' "$tgt_out" || fail "$dev removed: target: $(cat "$tgt_out")"
	# error ENAME after N; reported R of P; vmpin BEFORE RUNNING AFTER
	read -r err ok reported posted before running after < <(sed -En \
		's/^error (E[A-Z]+) after ([0-9]+); reported ([0-9]+) of ([0-9]+); vmpin (-?[0-9]+) (-?[0-9]+) (-?[0-9]+)$/\1 \2 \3 \4 \5 \6 \7/p' \
		"$ini_out")
	[ -n "${err:-}" ] || fail "$dev removed: initiator: $(cat "$ini_out")"
	[ "$ok" -gt 0 ] || fail "$dev removed: no operation succeeded before the removal"
	[ "$reported" = "$posted" ] || fail "$dev removed: $posted operations posted, $reported reported"
	[ "$running" -ge $((before + 1024)) ] || fail "$dev removed: the region was not pinned ($before -> $running kB)"
	[ "$after" = "$before" ] || fail "$dev removed: VmPin $before kB before, $after kB after close"
	pass "$dev removed mid-RDMA: both ends return an error ($err), all $posted operations reported, pins released"
	rm -f "$tgt_out" "$ini_out"
	wait $tgt $ini 2>/dev/null
	tgt= ini=
	# The remaining device goes before its host does.
	if [ $side = a ]; then ip netns exec $nsb rdma link delete rxeb$n; else ip netns exec $nsa rdma link delete rxea$n; fi
	ip netns del $nsa; ip netns del $nsb
	nsa= nsb=
}

run_case 1 b	# the target's device
run_case 2 a	# the initiator's own
