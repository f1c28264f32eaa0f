#!/usr/bin/env bash
# A passive connection that ends before it is established frees its listener's
# backlog slot. The peer (sdp_rogue, userspace verbs) completes the handshake on its
# side, but its RTU is dropped on the wire (tc on host a's veth), and it disconnects at
# once: the listener's child sees a DREQ where the RTU should be. Repeated more times
# than the backlog allows, a leaked child would make every later connect fail.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py
ROGUE=$(dirname "$0")/../build/helpers/sdp_rogue
port=7400 backlog=1 rounds=4

# RoCE v2 carries CM messages as MADs in UDP to port 4791: IPv4 20 + UDP 8 + BTH 12 +
# DETH 8 bytes, then the MAD header, whose attribute ID (0x0014: RTU) is at byte 16.
drop_rtu() {
	ip netns exec a tc qdisc add dev va clsact &&
		ip netns exec a tc filter add dev va egress protocol ip prio 1 u32 \
			match ip protocol 17 0xff match ip dport 4791 0xffff match u16 0x0014 0xffff at 64 action drop
}
stop_dropping() { ip netns exec a tc qdisc del dev va clsact 2>/dev/null; }
dropped_packets() {
	ip netns exec a tc -s filter show dev va egress | awk '/Sent .* pkt/ {print $4; exit}'
}
trap stop_dropping EXIT

coproc HOLD { ip netns exec b python3 "$PEER" hold "$HOST_B4" $port $backlog; }
read -r -t 30 line <&"${HOLD[0]}" && [ "$line" = listening ] || fail "listener did not start"
drop_rtu || fail "tc filter"
for i in $(seq $rounds); do
	out=$(ip netns exec a timeout 60 "$ROGUE" "$HOST_B4" $port disconnect) || fail "round $i: rogue: $out"
done
n=$(dropped_packets)
echo "# RTUs dropped: ${n:-none}"
[ "${n:-0}" -ge $rounds ] || fail "the filter dropped ${n:-0} RTUs, expected $rounds"
stop_dropping
# The children are torn down: none is left in the listener's queue.
for _ in $(seq 50); do
	left=$(ip netns exec b grep -c accepting /proc/net/infinisock/sdp)
	[ "$left" = 0 ] && break
	sleep 0.2
done
ip netns exec b cat /proc/net/infinisock/sdp | sed 's/^/# /'
[ "$left" = 0 ] || fail "$left connections that ended before the RTU are still queued on the listener"
pass "connections that ended before the RTU left the listener's queue"
got=$(ip netns exec a timeout 60 python3 "$PEER" connect "$HOST_B4" $port)
[ "$got" = connected ] || fail "a well-behaved client after $rounds lost handshakes: $got"
pass "the listener still takes connections (backlog $backlog, $rounds lost handshakes)"
eval "exec ${HOLD[1]}>&-"
wait
