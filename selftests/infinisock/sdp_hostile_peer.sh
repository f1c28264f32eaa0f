#!/usr/bin/env bash
# A peer that breaks the SDP protocol (sdp_rogue, userspace verbs) gets its connection
# reset: the local socket sees ECONNRESET, the kernel log says why, nothing else is
# affected (the kernel_log step checks for splats and leaks after unloading).
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py
ROGUE=$HELPERS/sdp_rogue

# The shared hosts must be left as found whatever ends the test: a failure while the
# RTU-dropping filter is on host b would break every later test's connections.
cleanup() {
	tc -n b qdisc del dev vb clsact 2>/dev/null
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

port=7100
scenario() { # [MODE=sink|spew] scenario NAME EXPECTED_SOCKET_REGEX EXPECTED_LOG_REGEX
	local name=$1 want_sink=$2 want_log=$3 out rogue_out mark
	port=$((port + 1))
	out=$(mktemp)
	ip netns exec b python3 "$PEER" "${MODE:-sink}" "$HOST_B4" $port > "$out" &
	local snk=$!
	wait_output "$out" listening
	# Only the lines from here on (not cleared: the kernel_log step reads them all).
	mark=$(dmesg | wc -l)
	rogue_out=$(ip netns exec a timeout 90 "$ROGUE" "$HOST_B4" $port "$name")
	for _ in $(seq 40); do kill -0 $snk 2>/dev/null || break; sleep 0.5; done
	kill $snk 2>/dev/null; wait $snk 2>/dev/null
	echo "# $name: rogue '$rogue_out', socket '$(tail -1 "$out")'" >&2
	[ -z "$want_sink" ] || grep -Eq "$want_sink" "$out" || fail "$name: socket saw '$(tail -1 "$out")'"
	[ -z "$want_log" ] || dmesg | tail -n +$((mark + 1)) | grep -Eq "$want_log" || fail "$name: no '$want_log' in the kernel log"
	rm -f "$out"
	echo "$rogue_out"
}

[ "$(scenario bad_hello '' 'bad Hello' | tail -1)" = rejected ] || fail "bad Hello not rejected"
pass "a request with a bad Hello is rejected"
# zc_unnegotiated: a SrcAvail where the module offered no zero-copy (Hello max_adverts 0).
for s in unknown_mid bad_len out_of_seq zc_unnegotiated; do
	[ "$(scenario $s '^error ECONNRESET' 'SDP: (malformed message|peer broke flow control)' | tail -1)" = disconnected ] ||
		fail "$s: the rogue was not disconnected"
	pass "$s: connection reset, ECONNRESET on the socket"
done
[ "$(scenario after_disconn '^(eof|error ECONNRESET) after 4' '' | tail -1)" = disconnected ] ||
	fail "after_disconn: the rogue was not disconnected"
pass "data after DisConn: connection reset"
[ "$(scenario abort '^error ECONNRESET' '' | tail -1)" = disconnected ] || fail "abort: not disconnected"
pass "Abort from the peer: ECONNRESET"
# A peer that fills every credit with data the reader has not read yet, then
# disconnects without a DisConn: no receive is left to be flushed, and the reader
# (5 s later, "hold") must still see the reset (unread data goes with it, as with an
# Abort), not wait for ever.
mark=$(dmesg | wc -l)
out=$(MODE=hold scenario fill_vanish '^error ECONNRESET after [0-9]+$' '')
echo "$out" | tr '\n' ' ' | grep -Eq '^sent [1-8] disconnected $' || fail "fill_vanish: rogue saw '$out'"
# A reset for the peer's disconnect, not for a message it sent (all were in its grant).
! dmesg | tail -n +$((mark + 1)) | grep -E 'SDP: (malformed message|peer broke flow control)' ||
	fail "fill_vanish: the module took a message in the grant for a violation"
pass "a peer that fills every credit and disconnects without DisConn: ECONNRESET"
# A peer that grants credits, asks for receiver-not-ready retries for ever and posts no
# receive: the listener's sends must fail after a bounded number of retries (the QP's
# count is capped), not hold the connection's buffers for ever.
[ "$(MODE=spew scenario no_recv '^error ETIMEDOUT' '' | tail -1)" = disconnected ] ||
	fail "no_recv: the connection to a peer that posts no receives was not reset"
pass "a peer that posts no receives: the sends time out (ETIMEDOUT)"

# Peers that abandon the handshake after the listener's REP, more of them than the
# listener's backlog (1: two connections may wait): each must leave the listener's
# queue, or the listener refuses everyone after them. "no_rtu" answers the REP with a
# DREQ: its RTU is dropped on the wire (a RoCEv2 MAD, attribute id 0x0014 = RTU) as
# it reaches host b; not as it leaves host a, where the failed send would move rxe's
# GSI QP to the error state and end all connection management on that device.
tc -n b qdisc add dev vb clsact || fail "tc qdisc"
tc -n b filter add dev vb ingress protocol ip prio 1 u32 match ip protocol 17 0xff match ip dport 4791 0xffff \
	match u16 0x0014 0xffff at 64 action drop || fail "tc filter"
ip netns exec b python3 "$PEER" serve "$HOST_B4" 7198 > /dev/null &
srv=$!
wait_listening b 7198
for i in 1 2 3 4; do
	out=$(ip netns exec a timeout 60 "$ROGUE" "$HOST_B4" 7198 no_rtu | tr '\n' ' ')
	[ "$out" = "rep disconnected " ] || fail "abandoned handshake $i: rogue saw '$out'"
done
# RTUs the filter dropped so far ("Sent B bytes P pkt" of its drop action).
rtus_dropped() { tc -n b -s filter show dev vb ingress prio 1 | sed -n 's/.*Sent [0-9]* bytes \([0-9]*\) pkt.*/\1/p' | head -n1; }
# A client whose RTU is lost but which speaks first: its first message completes the
# listener's handshake, as a data segment completes TCP's when the handshake's ACK was
# lost. (Waiting for the REP's retry would lose the retried RTU here too.)
before=$(rtus_dropped)
ip netns exec b python3 "$PEER" serve "$HOST_B4" 7197 > /dev/null &
wait_listening b 7197
got=$(ip netns exec a timeout 30 python3 "$PEER" echo "$HOST_B4" 7197 early)
[ "$got" = early ] || fail "a client whose RTU was lost got '$got', not its echo"
[ "$(rtus_dropped)" -gt "$before" ] || fail "the filter dropped no RTU of that client ($before before, $(rtus_dropped) after)"
pass "a lost RTU: the client's first message completes the listener's handshake"
tc -n b qdisc del dev vb clsact || fail "tc qdisc del"
for i in 1 2 3; do
	out=$(ip netns exec a timeout 60 "$ROGUE" "$HOST_B4" 7198 rej_after_rep | tr '\n' ' ')
	[ "$out" = "rep rejected " ] || fail "rejected handshake $i: rogue saw '$out'"
done
[ "$(ip netns exec a timeout 60 python3 "$PEER" echo "$HOST_B4" 7198 fine)" = fine ] ||
	fail "the listener refused a client after peers abandoned handshakes"
wait $srv
pass "handshakes abandoned after the REP (DREQ, REJ) leave the listener's queue"

# A peer that offers no responder resources for RDMA READs (0 in its REQ or REP): an
# AF_IB stream's READ toward it is refused at once (EOPNOTSUPP), not posted to wait
# for ever, and the sockets are freed after close (the module's references return).
READER=$HELPERS/af_ib_rdma_peer
# The connections of the handshakes above are torn down asynchronously: the count
# is taken once it has stopped moving.
refs=$(module_refs) still=0
for _ in $(seq 60); do
	sleep 0.5
	if [ "$(module_refs)" = "$refs" ]; then
		still=$((still + 1))
		[ $still -ge 4 ] && break
	else
		refs=$(module_refs) still=0
	fi
done
out=$(mktemp)
ip netns exec b timeout 90 "$ROGUE" "$HOST_B4" 7201 listen_no_reads > "$out" &
rogue=$!
wait_output "$out" listening
got=$(ip netns exec a timeout 60 "$READER" reader "$HOST_B4" 7201)
wait $rogue
echo "# active side: reader '$got', rogue '$(tr '\n' ' ' < "$out")'" >&2
[ "$got" = "refused EOPNOTSUPP" ] || fail "a READ toward a peer without responder resources: $got"
grep -q disconnected "$out" || fail "the rogue's connection was not ended: $(cat "$out")"
ip netns exec b timeout 60 "$READER" read_on_accept "$HOST_B4" 7202 > "$out" &
reader=$!
wait_output "$out" listening
rogue_out=$(ip netns exec a timeout 90 "$ROGUE" "$HOST_B4" 7202 idle)
wait $reader
echo "# passive side: reader '$(cat "$out")', rogue '$rogue_out'" >&2
[ "$(cat "$out")" = "listening
refused EOPNOTSUPP" ] || fail "a READ toward a client without responder resources: $(cat "$out")"
[ "$rogue_out" = disconnected ] || fail "the rogue client's connection was not ended: $rogue_out"
for _ in $(seq 50); do [ "$(module_refs)" = "$refs" ] && break; sleep 0.2; done
[ "$(module_refs)" = "$refs" ] || fail "module references $refs before, $(module_refs) after: sockets not freed"
rm -f "$out"
pass "RDMA READ toward a peer without READ responder resources: EOPNOTSUPP, sockets freed"

# The shared hosts still work.
ip netns exec b python3 "$PEER" serve "$HOST_B4" 7199 > /dev/null &
wait_listening b 7199
[ "$(ip netns exec a timeout 60 python3 "$PEER" echo "$HOST_B4" 7199 fine)" = fine ] || fail "echo after the rogues"
pass "other connections unaffected"
