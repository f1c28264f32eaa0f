#!/usr/bin/env bash
# Unmodified tools reach SDP through the protocol number alone: Python's socket module
# and socat's generic socket addresses, between the VM's two hosts.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py

# Python, both address families.
for addr in 10.77.0.2 fd77::2; do
	out=$(mktemp)
	ip netns exec b python3 "$PEER" serve "$addr" 7001 > "$out" &
	srv=$!
	wait_output "$out" listening
	got=$(ip netns exec a timeout 60 python3 "$PEER" echo "$addr" 7001 "hello over $addr")
	wait $srv
	[ "$got" = "hello over $addr" ] || fail "python echo over $addr: got '$got'"
	rm -f "$out"
	pass "python socket(AF_INET*, SOCK_STREAM, 258) echo over $addr"
done

# socat: SOCKET-LISTEN/SOCKET-CONNECT take domain, protocol and the raw sockaddr after
# the family: port 7002 (0x1b5a), 10.77.0.2 (0a4d0002), 8 bytes of padding.
sa=x1b5a0a4d00020000000000000000
out=$(mktemp)
ip netns exec b timeout 60 socat -u "SOCKET-LISTEN:2:258:$sa" "OPEN:$out,creat,trunc" &
srv=$!
wait_listening b 7002
echo "socat says hi" | ip netns exec a timeout 60 socat -u - "SOCKET-CONNECT:2:258:$sa" ||
	fail "socat connect failed"
wait $srv || fail "socat listener failed"
[ "$(cat "$out")" = "socat says hi" ] || fail "socat payload: '$(cat "$out")'"
rm -f "$out"
pass "socat generic socket addresses with protocol 258"
