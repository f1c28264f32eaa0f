#!/usr/bin/env bash
# A hostile peer (helpers/sdp_peer_fuzz, userspace verbs) throws random and mutated
# Hellos and messages (zero-copy ones too), DisConn/Abort at random points and RDMA
# WRITE floods at an SDP listener, PEER_FUZZ_MESSAGES of them (default 3000; `make fuzz` runs 100000), while
# a well-behaved client keeps using the same listener: every one of its echoes must
# come back, and the connections the fuzzer left must all be gone afterwards. The
# kernel_log step judges splats and leaks.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py
FUZZ=$HELPERS/sdp_peer_fuzz
port=7300 messages=${PEER_FUZZ_MESSAGES:-3000} seed=${PEER_FUZZ_SEED:-$(date +%s)}

# The listener offers zero-copy, so that the fuzzer's zero-copy Hellos bring its
# SrcAvails and other zero-copy messages to the sink's code.
trap 'ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=0' EXIT
ip netns exec b sysctl -qw net.infinisock.sdp_zcopy=1 || fail "sysctl sdp_zcopy"
out=$(mktemp) fuzz_out=$(mktemp)
ip netns exec b python3 "$PEER" echoserver "$HOST_B4" $port > "$out" &
srv=$!
wait_output "$out" listening

t0=$SECONDS
ip netns exec a "$FUZZ" "$HOST_B4" $port "$messages" "$seed" > "$fuzz_out" &
fz=$!
echoes=0 failed=0
while kill -0 $fz 2>/dev/null; do
	r=$(ip netns exec a timeout 60 python3 "$PEER" echo "$HOST_B4" $port "ping$echoes" 2>&1)
	if [ "$r" = "ping$echoes" ]; then
		echoes=$((echoes + 1))
	else
		failed=$((failed + 1))
		echo "# echo $echoes failed: '$r'"
	fi
	sleep 1
done
wait $fz || fail "the peer fuzzer failed: $(cat "$fuzz_out")"
echo "# $(cat "$fuzz_out") in $((SECONDS - t0)) s; $echoes echoes meanwhile"
[ $failed = 0 ] || fail "$failed of the well-behaved client's echoes failed while the peer fuzzed"
[ $echoes -gt 0 ] || fail "no echo ran while the peer fuzzed"
pass "the listener served a well-behaved client throughout $messages hostile messages"

kill $srv; wait $srv 2>/dev/null
# Every connection ends: reset by the module, or closed by the peer or the fin timeout.
for _ in $(seq 60); do
	[ "$(ip netns exec b tail -n +2 /proc/net/infinisock/sdp | wc -l)" = 0 ] && break
	sleep 1
done
left=$(ip netns exec b tail -n +2 /proc/net/infinisock/sdp)
[ -z "$left" ] || fail "connections left after the peer fuzzer: $left"
pass "no connection left behind"
rm -f "$out" "$fuzz_out"
