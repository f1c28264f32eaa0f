#!/usr/bin/env bash
# SDP streams on their devices' shared receive queues (net.infinisock.sdp_srq=1 on both
# hosts, the default, under which the rest of the tests run): each host's device has
# one shared receive queue while connections are up and none once they are gone; the
# queue pairs on a queue complete to CQs it shares among them (one per device for 32
# connections); a burst's buffers go back; a peer beyond its grant is reset;
# sdp_peer_vanishes passes with the queue's device removed; and the receive buffers
# come back (recv_buffers_kib in /proc/net/infinisock/memory falls to 0). The
# sdp_stream, sdp_soak and sdp_scale suites run here once more with sdp_srq=0, on
# receive buffers of each connection's own.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py
SDP_STREAM=$(dirname "$0")/sdp_stream
[ -x "$SDP_STREAM" ] || SDP_STREAM=$(dirname "$0")/../build/sdp_stream
srq_a=$(ip netns exec a sysctl -n net.infinisock.sdp_srq) || fail "sysctl sdp_srq in a"
srq_b=$(ip netns exec b sysctl -n net.infinisock.sdp_srq) || fail "sysctl sdp_srq in b"
cleanup() {
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
	ip netns exec a sysctl -qw net.infinisock.sdp_srq="$srq_a"
	ip netns exec b sysctl -qw net.infinisock.sdp_srq="$srq_b"
}
trap cleanup EXIT
set_srq() { for ns in a b; do ip netns exec $ns sysctl -qw net.infinisock.sdp_srq="$1" || fail "sysctl sdp_srq in $ns"; done; }
set_srq 1

srqs() { rdma resource show srq dev "$1" 2>/dev/null | grep -c "srqn"; }
recv_kib() { awk '$1 == "recv_buffers_kib" {print $2}' /proc/net/infinisock/memory; }

# One connection held open: each end's device has its queue.
ip netns exec b python3 "$PEER" echoserver "$HOST_B4" 7611 > /dev/null &
echoserver=$!
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
# Gone before the suites, which count the connections and listeners left.
kill "$holder" "$echoserver"
wait "$holder" "$echoserver" 2>/dev/null

# A burst, then quiet: 32 connections echo 256 KiB each (both ends active, their
# windows backed in full), then rest. The buffers posted for them are not taken by
# any receive, so the queues give them back themselves (drain messages consuming the
# surplus): the receive buffers fall to at most half of the burst's while the
# connections stay open, and each echoes again afterwards, byte-checked.
ip netns exec b python3 "$PEER" echoserver "$HOST_B4" 7614 > /dev/null &
echoserver=$!
wait_listening b 7614
ip netns exec a python3 - "$HOST_B4" 7614 <<'PY' || fail "burst then quiet"
import socket, subprocess, sys, time
def recv_kib():
    # /proc/1/net: the initial namespace's, where the module's memory file is.
    for line in open("/proc/1/net/infinisock/memory"):
        k, v = line.split()[:2]
        if k == "recv_buffers_kib":
            return int(v)
def echo(conns, rounds):
    for r in range(rounds):
        blocks = [bytes([(i * 7 + r + j) % 251 for j in range(251)]) * 261 for i in range(len(conns))]
        for c, b in zip(conns, blocks):
            c.sendall(b)
        for c, b in zip(conns, blocks):
            got = b""
            while len(got) < len(b):
                more = c.recv(len(b) - len(got))
                assert more, f"end of stream after {len(got)} of {len(b)} bytes"
                got += more
            assert got == b, "echo differs"
conns = [socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258) for _ in range(32)]
for c in conns:
    c.connect((sys.argv[1], int(sys.argv[2])))
echo(conns, 4)
# The queue pairs on the queues share their CQs: one per device here, not two per
# connection (the 32 connections are 64 queue pairs, both ends on this host).
mem = dict(line.split()[:2] for line in open("/proc/1/net/infinisock/memory"))
assert mem.get("shared_cqs") == "2" and mem.get("shared_cq_qps") == "64", f"shared CQs: {mem}"
cqs = subprocess.run(["rdma", "resource", "show", "cq", "dev", "rxea"], capture_output=True, text=True).stdout
ncq = cqs.count("cqn ")
print(f"# rxea has {ncq} CQs with 32 connections up")
assert ncq < 8, f"rxea has {ncq} CQs with 32 connections up"
burst = recv_kib()
quiet = burst
deadline = time.time() + 15
while time.time() < deadline and quiet * 2 > burst:
    time.sleep(0.5)
    quiet = recv_kib()
print(f"# receive buffers: {burst} KiB after the burst, {quiet} KiB once quiet")
assert quiet * 2 <= burst, f"the queues kept {quiet} of {burst} KiB after the burst"
echo(conns, 2)
for c in conns:
    c.close()
PY
kill "$echoserver"
wait "$echoserver" 2>/dev/null
pass "the queues give back what a burst left posted; their queue pairs share one CQ per device"

# The suites run on the queues with the rest of the tests (sdp_srq is on by default);
# here on receive buffers and CQs of each connection's own: sdp_stream's cases,
# sdp_soak's 256 connections with every byte checked, and sdp_scale with 500
# connections (its 2,000 run on the queues; a quarter covers the same path in a
# quarter of the time).
set_srq 0
"$SDP_STREAM" || fail "sdp_stream on receive buffers of its own"
SDP_SOAK=$(dirname "$SDP_STREAM")/sdp_soak
"$SDP_SOAK" || fail "sdp_soak on receive buffers of its own"
SDP_SCALE=$(dirname "$SDP_STREAM")/sdp_scale
INFINISOCK_SCALE_N=500 "$SDP_SCALE" || fail "sdp_scale on receive buffers of its own"
set_srq 1
pass "sdp_stream, sdp_soak and sdp_scale with sdp_srq=0"

# A peer that sends beyond its grant into the shared queue (sdp_rogue overrun, against
# a listener that reads nothing) is reset, and the queue goes on serving the others.
out=$(mktemp)
ip netns exec b python3 "$PEER" spew "$HOST_B4" 7612 > "$out" &
spew=$!
wait_output "$out" listening
# Only the log lines from here on (not cleared: the kernel_log step reads them all).
mark=$(dmesg | wc -l)
rogue=$(ip netns exec a timeout 90 "$HELPERS/sdp_rogue" "$HOST_B4" 7612 overrun)
for _ in $(seq 40); do kill -0 $spew 2>/dev/null || break; sleep 0.5; done
echo "# overrun: rogue '$rogue', socket '$(tail -1 "$out")'"
[ "$rogue" = disconnected ] || fail "overrun: the rogue was not disconnected: $rogue"
grep -Eq '^error (ECONNRESET|EPIPE)' "$out" || fail "overrun: the socket saw '$(tail -1 "$out")'"
dmesg | tail -n +$((mark + 1)) | grep -q 'SDP: peer broke flow control' || fail "overrun: no 'peer broke flow control' in the kernel log"
rm -f "$out"
ip netns exec b python3 "$PEER" serve "$HOST_B4" 7613 > /dev/null &
wait_listening b 7613
[ "$(ip netns exec a timeout 60 python3 "$PEER" echo "$HOST_B4" 7613 fine)" = fine ] || fail "echo after the overrun"
pass "a peer beyond its grant is reset, others are served"

# A device removed under a connection on its queue (its own hosts, netns c and d).
SDP_SRQ=1 bash "$(dirname "$0")/sdp_peer_vanishes.sh" || fail "sdp_peer_vanishes on shared receive queues"
pass "a device with a shared receive queue vanishes under a connection"

kill $(jobs -p) 2>/dev/null
wait 2>/dev/null
for _ in $(seq 150); do [ "$(srqs rxea)" = 0 ] && [ "$(srqs rxeb)" = 0 ] && [ "$(recv_kib)" = 0 ] && break; sleep 0.2; done
[ "$(srqs rxea)$(srqs rxeb)" = 00 ] || fail "shared receive queues left after the last connection: $(rdma resource show srq)"
[ "$(recv_kib)" = 0 ] || fail "receive buffers left: $(cat /proc/net/infinisock/memory)"
shared_cqs=$(awk '$1 == "shared_cqs" || $1 == "shared_cq_qps" {printf "%s ", $2}' /proc/net/infinisock/memory)
[ "$shared_cqs" = "0 0 " ] || fail "shared CQs (and queue pairs on them) left: $shared_cqs"
pass "queues, their CQs and their buffers gone with the last connection"
