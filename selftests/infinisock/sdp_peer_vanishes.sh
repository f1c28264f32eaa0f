#!/usr/bin/env bash
# An SDP connection whose peer vanishes mid-transfer: the peer's RDMA device is deleted
# under it. Both ends' blocked calls must return with an error, and nothing may be left
# behind (the kernel_log step then unloads the module and runs kmemleak).
# Uses its own two hosts (netns c and d) so the shared topology stays intact.
# sdp_srq.sh runs it again with the connection on shared receive queues.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py

cleanup() {
	kill $src $snk 2>/dev/null
	rxe_hosts_del c d
}
src= snk=
trap cleanup EXIT
rxe_hosts c d 10.78.0
# SDP_SRQ=1 (from sdp_srq.sh): the connection is on its devices' shared receive
# queues, and the queue of the device that vanishes goes with it.
for h in c d; do ip netns exec $h sysctl -qw net.infinisock.sdp_srq="${SDP_SRQ:-0}" || fail "sdp_srq"; done

sink_out=$(mktemp) src_out=$(mktemp)
ip netns exec d python3 "$PEER" sink 10.78.0.2 7003 > "$sink_out" &
snk=$!
wait_output "$sink_out" listening
ip netns exec c python3 "$PEER" source 10.78.0.2 7003 > "$src_out" &
src=$!
# Let data flow (Python starts slowly under TCG: wait for the connection), then take
# the peer's device away.
for _ in $(seq 120); do
	ip netns exec c cat /proc/net/infinisock/sdp | grep -q established && break
	sleep 0.5
done
sleep 2
ip netns exec c cat /proc/net/infinisock/sdp | sed 's/^/# c: /'
ip netns exec d rdma link delete rxed || fail "rdma link delete rxed"
dmesg | grep -q 'infinisock: rdma device rxed removed' || fail "device removal not seen"

# Both sides must give up within a minute.
for _ in $(seq 120); do
	kill -0 $src 2>/dev/null || kill -0 $snk 2>/dev/null || break
	if ! kill -0 $src 2>/dev/null && ! kill -0 $snk 2>/dev/null; then break; fi
	sleep 0.5
done
kill -0 $snk 2>/dev/null && { ip netns exec d cat /proc/net/infinisock/sdp; fail "the side whose device went is still blocked"; }
kill -0 $src 2>/dev/null && { ip netns exec c cat /proc/net/infinisock/sdp; fail "the side whose peer went is still blocked"; }
echo "# sink: $(cat "$sink_out" | tail -1)"
echo "# source: $(cat "$src_out")"
grep -Eq '^error E(NETDOWN|CONNRESET|TIMEDOUT|PIPE|HOSTUNREACH)' "$src_out" || fail "source ended without an error: $(cat "$src_out")"
grep -Eq '^(error E[A-Z]+|eof) after [1-9]' "$sink_out" || fail "sink: $(cat "$sink_out")"
pass "both ends of a connection whose peer device vanished return an error"
rm -f "$sink_out" "$src_out"

# The connections are gone from the table once torn down.
for _ in $(seq 40); do
	[ "$(ip netns exec c cat /proc/net/infinisock/sdp | wc -l)" -le 1 ] && break
	sleep 0.5
done
[ "$(ip netns exec c cat /proc/net/infinisock/sdp | wc -l)" -le 1 ] || fail "connections left: $(ip netns exec c cat /proc/net/infinisock/sdp)"
pass "torn down"
