#!/usr/bin/env bash
# SDP streams on their devices' shared receive queues (net.infinisock.sdp_srq=1 on both
# hosts): the whole sdp_stream suite passes with every connection's credits granted
# out of its device's queue; each host's device has one shared receive queue while
# connections are up and none once they are gone; and the receive buffers come back
# (recv_buffers_kib in /proc/net/infinisock/memory falls to 0).
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py
SDP_STREAM=$(dirname "$0")/sdp_stream
[ -x "$SDP_STREAM" ] || SDP_STREAM=$(dirname "$0")/../build/sdp_stream
cleanup() {
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	for ns in a b; do ip netns exec $ns sysctl -qw net.infinisock.sdp_srq=0; done
}
trap cleanup EXIT
for ns in a b; do ip netns exec $ns sysctl -qw net.infinisock.sdp_srq=1 || fail "sysctl sdp_srq in $ns"; done

srqs() { rdma resource show srq dev "$1" 2>/dev/null | grep -c "srqn"; }
recv_kib() { awk '$1 == "recv_buffers_kib" {print $2}' /proc/net/infinisock/memory; }

# One connection held open: each end's device has its queue.
ip netns exec b python3 "$PEER" echoserver "$HOST_B4" 7611 > /dev/null &
wait_listening b 7611
ip netns exec a python3 - "$HOST_B4" 7611 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
s.connect((sys.argv[1], int(sys.argv[2])))
data = bytes(range(256)) * 1024
s.sendall(data)
got = b""
while len(got) < len(data):
    got += s.recv(65536)
assert got == data, "echo differs"
time.sleep(30)
PY
holder=$!
for _ in $(seq 100); do [ "$(srqs rxea)" -ge 1 ] && [ "$(srqs rxeb)" -ge 1 ] && break; sleep 0.2; done
[ "$(srqs rxea)" = 1 ] || fail "rxea has $(srqs rxea) shared receive queues with a connection up: $(rdma resource show srq)"
[ "$(srqs rxeb)" = 1 ] || fail "rxeb has $(srqs rxeb) shared receive queues with a connection up"
pass "one shared receive queue per device while a connection is up"
kill "$holder"
wait "$holder" 2>/dev/null

"$SDP_STREAM" || fail "sdp_stream on shared receive queues"
pass "sdp_stream on shared receive queues"

kill $(jobs -p) 2>/dev/null
wait 2>/dev/null
for _ in $(seq 150); do [ "$(srqs rxea)" = 0 ] && [ "$(srqs rxeb)" = 0 ] && [ "$(recv_kib)" = 0 ] && break; sleep 0.2; done
[ "$(srqs rxea)$(srqs rxeb)" = 00 ] || fail "shared receive queues left after the last connection: $(rdma resource show srq)"
[ "$(recv_kib)" = 0 ] || fail "receive buffers left: $(cat /proc/net/infinisock/memory)"
pass "queues and their buffers gone with the last connection"
