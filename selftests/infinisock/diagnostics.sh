#!/usr/bin/env bash
# What an administrator watches: the module's tracepoints (TRACE_SYSTEM infinisock),
# enabled through tracefs and counted by perf, fire for what they name, with the
# socket's cookie (SO_COOKIE): an SDP connection's phases on both hosts, a writer
# stalled for the peer's credits, a hybrid socket's fall back to TCP, and a peer's
# protocol violation; and each namespace's counters (/proc/net/infinisock/stats) count
# the same events where they happened.
. "$(dirname "$0")/_lib.bash"
module_loaded || insmod "$INFINISOCK_KO" || fail "insmod"
PEER=$(dirname "$0")/py/sdp_peer.py
ROGUE=$HELPERS/sdp_rogue
B=10.77.0.2
T=/sys/kernel/tracing
E=$T/events/infinisock

cleanup() {
	echo 0 > "$E/enable" 2>/dev/null
	kill $(jobs -p) 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT

declare -A before
for ns in a b; do
	for c in active_opens passive_opens connect_refused protocol_violations credit_stalls bytes_sent bytes_received \
		hybrid_tcp_policy; do
		before[$ns.$c]=$(counter $ns $c)
		[ -n "${before[$ns.$c]}" ] || fail "no $c in namespace $ns's /proc/net/infinisock/stats"
	done
done
# grew NETNS NAME MIN: the counter grew by at least MIN since the start.
grew() {
	local now
	now=$(counter "$1" "$2")
	[ $((now - ${before[$1.$2]})) -ge "$3" ] || fail "$2 in namespace $1 grew from ${before[$1.$2]} to $now, not by $3"
}

[ -d "$T/events" ] || mount -t tracefs nodev "$T" || fail "cannot mount tracefs"
for e in infinisock_state infinisock_fallback infinisock_credit_stall infinisock_violation; do
	[ -d "$E/$e" ] || fail "no tracepoint infinisock:$e"
done
pass "four tracepoints under events/infinisock"

# A server on host b that takes 1 MiB only after a pause (its peer's writer runs out of
# credits meanwhile), a TCP server for the hybrid client, then one client of each on
# host a; each client prints its socket's cookie.
server() {
	ip netns exec b python3 - "$@" <<'PY'
import socket, sys, time
kind, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258 if kind == "sdp" else 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.2", port))
s.listen(1)
print("listening", flush=True)
c, _ = s.accept()
time.sleep(2)
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
print("got", n, flush=True)
PY
}
client() {
	ip netns exec a python3 - "$@" <<'PY'
import socket, struct, sys
proto, port = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto)
s.connect(("10.77.0.2", port))
print(struct.unpack("<Q", s.getsockopt(socket.SOL_SOCKET, 57, 8))[0], flush=True)  # SO_COOKIE
s.sendall(b"x" * (1 << 20))
s.close()
PY
}

echo > "$T/trace"
echo 1 > "$E/enable"
out=$(mktemp)
server sdp 7201 > "$out" &
wait_output "$out" listening
sdp_cookie=$(client 258 7201) || fail "SDP client"
wait_output "$out" "got 1048576"
tout=$(mktemp)
server tcp 7202 > "$tout" &
wait_output "$tout" listening
# Protocol 259 (a hybrid) under namespace a's policy, which leaves SDP off by default.
[ "$(ip netns exec a sysctl -n net.infinisock.sdp_transparent)" = 0 ] || fail "namespace a's policy is not off"
hybrid_cookie=$(client 259 7202) || fail "hybrid client"
wait_output "$tout" "got 1048576"
sleep 1
echo 0 > "$E/enable"
trace=$(cat "$T/trace")
echo "$trace" | grep infinisock | grep -v credit_stall | sed 's/^/# /' >&2

echo "$trace" | grep -q "infinisock_state: cookie=$sdp_cookie family=2 protocol=258 src=\[::ffff:10.77.0.1\]:[0-9]* dst=\[::ffff:10.77.0.2\]:7201 CONNECTING -> CONNECTED" ||
	fail "no CONNECTING -> CONNECTED event for the client's cookie $sdp_cookie"
echo "$trace" | grep -q "infinisock_state: cookie=$sdp_cookie .* -> CLOSED" || fail "the client's close not traced"
echo "$trace" | grep -q "infinisock_state: cookie=[0-9]* family=2 protocol=258 src=\[::ffff:10.77.0.2\]:7201 .* OPEN -> LISTENING" ||
	fail "the listener not traced"
echo "$trace" | grep -q "infinisock_state: .*ACCEPTING -> CONNECTED" || fail "the accepted connection not traced"
pass "connection phases, with the socket cookie and addresses"
stalls=$(echo "$trace" | grep -c "infinisock_credit_stall: cookie=$sdp_cookie credits=")
# When the credits run out, not at every wake-up while they stay out: the reader
# paused once, and each credit update it sends after lets a few more messages go
# before the next stall (a wake-up per completion would be hundreds).
[ "$stalls" -ge 1 ] && [ "$stalls" -le 10 ] || fail "$stalls credit stall events for the writer ahead of its reader"
pass "a writer waiting for credits"
echo "$trace" | grep -q "infinisock_fallback: cookie=$hybrid_cookie tcp_cookie=[1-9][0-9]* family=2 dst=\[::ffff:10.77.0.2\]:7202 reason=policy" ||
	fail "no fallback event for the hybrid socket $hybrid_cookie: $(echo "$trace" | grep infinisock_fallback)"
pass "a hybrid socket's fall back to TCP, with its reason"

# A peer that sends an unknown message: the violation is traced.
echo > "$T/trace"
echo 1 > "$E/infinisock_violation/enable"
ip netns exec b python3 "$PEER" sink "$B" 7203 > "$out" &
wait_output "$out" listening
ip netns exec a timeout 90 "$ROGUE" "$B" 7203 unknown_mid > /dev/null
for _ in $(seq 40); do grep -q "infinisock_violation" "$T/trace" && break; sleep 0.5; done
echo 0 > "$E/infinisock_violation/enable"
grep -q "infinisock_violation: cookie=[0-9]* malformed message" "$T/trace" || fail "no violation event: $(grep infinisock "$T/trace")"
pass "a peer's protocol violation"

# A connection nobody listens for.
ip netns exec a python3 -c '
import errno, socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
try:
    s.connect(("10.77.0.2", 7299))
    raise SystemExit("connected to nothing")
except ConnectionRefusedError:
    pass' || fail "connect to a port nobody listens on"

# The counters saw the same, each in its namespace: the client's in a, the server's and
# the rogue's victim's in b.
grew a active_opens 1
grew b passive_opens 2
grew a credit_stalls 1
grew a bytes_sent 1048576
grew b bytes_received 1048576
grew b protocol_violations 1
grew a connect_refused 1
grew a hybrid_tcp_policy 1
[ "$(counter a hybrid_tcp_policy)" = "$(ip netns exec a awk '$1 == "tcp_policy" {print $2}' /proc/net/infinisock/hybrid)" ] ||
	fail "hybrid_tcp_policy differs from /proc/net/infinisock/hybrid's tcp_policy"
pass "counters: opens, refusals, credit stalls, bytes, violations, hybrid paths, per namespace"

# infinisock-stat reads the same counters over generic netlink, each namespace its own.
TOP=${INFINISOCK_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
STAT=$TOP/tools/stat/infinisock-stat
for ns in a b; do
	proc=$(ip netns exec $ns cat /proc/net/infinisock/stats | sort)
	nl=$(ip netns exec $ns "$STAT" -z | awk '{print $1, $2}' | sort) || fail "infinisock-stat in $ns"
	[ "$proc" = "$nl" ] || fail "netlink and /proc differ in $ns: $(diff <(echo "$proc") <(echo "$nl"))"
	# -j: every counter /proc has, by name.
	ip netns exec $ns "$STAT" -j -z | python3 -c 'import json, sys; d = json.load(sys.stdin); assert len(d) == int(sys.argv[1]) and d["bytes_sent"] + d["bytes_received"] >= 1 << 20, d' "$(echo "$proc" | wc -l)" ||
		fail "infinisock-stat -j in $ns"
done
[ "$(ip netns exec a "$STAT" -z | awk '$1 == "bytes_sent" {print $2}')" != "$(ip netns exec b "$STAT" -z | awk '$1 == "bytes_sent" {print $2}')" ] ||
	fail "namespaces a and b read the same bytes_sent over netlink"
pass "infinisock-stat reads each namespace's counters over netlink, as /proc shows them, and as JSON"

# perf counts them like any tracepoint.
command -v perf > /dev/null || fail "perf is not installed"
server sdp 7204 > "$out" &
wait_output "$out" listening
n=$(perf stat -x, -e infinisock:infinisock_state -a -- bash -c "ip netns exec a python3 - 258 7204 <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
s.connect(('10.77.0.2', 7204))
s.sendall(b'x' * (1 << 20))
s.close()
PY
sleep 1" 2>&1 >/dev/null | awk -F, '/infinisock_state/ {print $1}')
wait_output "$out" "got 1048576"
[ -n "$n" ] && [ "$n" -ge 3 ] 2>/dev/null || fail "perf stat counted '$n' infinisock_state events"
pass "perf stat counts infinisock:infinisock_state ($n events)"
rm -f "$out" "$tout"

# infinisock-ss lists the sockets over sock_diag, as ss lists TCP's: a connection a->b
# held open (the client prints its port and cookie), with the kernel's filters, JSON,
# and for an unprivileged user too.
SS=$TOP/tools/stat/infinisock-ss
out=$(mktemp)
bout=$(mktemp)
ip netns exec b python3 - > "$bout" <<'PY' &
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.0.2", 7210))
s.listen(4)
c, _ = s.accept()
c.recv(1000, socket.MSG_WAITALL)
print("accepted", flush=True)
time.sleep(600)
PY
server=$!
sleep 1
ip netns exec a python3 - > "$out" <<'PY' &
import socket, struct, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
for _ in range(50):
    try:
        s.connect(("10.77.0.2", 7210))
        break
    except ConnectionRefusedError:
        time.sleep(0.2)
s.sendall(b"x" * 1000)
print("port", s.getsockname()[1], "cookie", struct.unpack("=Q", s.getsockopt(socket.SOL_SOCKET, 57, 8))[0], flush=True)
time.sleep(600)
PY
client=$!
wait_output "$out" cookie
read -r _ cport _ cookie < "$out"
ip netns exec a "$SS" | grep -Eq "^sdp +ESTAB +0 +0 +10\.77\.0\.1:$cport +10\.77\.0\.2:7210$" ||
	fail "infinisock-ss in a does not show the connection: $(ip netns exec a "$SS")"
ip netns exec b "$SS" -l | grep -Eq "^sdp +LISTEN +0 +4 +10\.77\.0\.2:7210 +\*:\*$" ||
	fail "infinisock-ss -l in b does not show the listener: $(ip netns exec b "$SS" -l)"
ip netns exec a "$SS" -e -i -j | python3 -c '
import json, sys
cookie = int(sys.argv[1])
rows = [r for r in json.load(sys.stdin) if r["cookie"] == cookie]
assert len(rows) == 1, rows
r = rows[0]
assert r["netid"] == "sdp" and r["state"] == "ESTAB" and r["uid"] == 0 and r["inode"] > 0, r
i = r["sdp"]
assert i["phase"] == "connected" and i["bytes_sent"] == 1000 and i["device"] == "rxea", i
assert i["qp_num"] > 0 and i["peer_qp_num"] > 0 and i["buf_size"] > 0 and i["credits"] > 0, i
# sdp_zcopy 0: the connection advertises nothing.
assert i["zc_thresh"] == 0 and "zc_adaptive" not in i["flags"] and i["zc_adverts_out"] == 0, i
' "$cookie" || fail "infinisock-ss -e -i -j: $(ip netns exec a "$SS" -e -i -j)"
# count ARGS...: the rows infinisock-ss lists in namespace a with ARGS.
count() { ip netns exec a "$SS" -j "$@" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'; }
[ "$(count --dport 7210)" = 1 ] && [ "$(count --dport 7211)" = 0 ] &&
	[ "$(count --dst 10.77.0.2/32)" = 1 ] && [ "$(count --src 10.78.0.0/16)" = 0 ] &&
	[ "$(count --cookie "$cookie")" = 1 ] && [ "$(count -6)" = 0 ] && [ "$(count --path tcp)" = 0 ] ||
	fail "infinisock-ss filters: dport $(count --dport 7210)/$(count --dport 7211), dst $(count --dst 10.77.0.2/32), src $(count --src 10.78.0.0/16), cookie $(count --cookie "$cookie"), -6 $(count -6)"
# Another user of the namespace sees root's sockets, as with TCP.
ip netns exec a setpriv --reuid 65534 --regid 65534 --clear-groups "$SS" -e |
	grep -Eq "10\.77\.0\.2:7210 +uid:0 " || fail "infinisock-ss as nobody: $(ip netns exec a setpriv --reuid 65534 --regid 65534 --clear-groups "$SS" -e 2>&1)"
# b lists its end of the connection, not a's socket.
wait_output "$bout" accepted
ip netns exec b "$SS" -e | grep -Eq "10\.77\.0\.1:$cport +uid:0 " ||
	fail "namespace b does not list its end: $(ip netns exec b "$SS" -a -e)"
ip netns exec b "$SS" -e | grep -q " sk:$(printf %x "$cookie")\$" && fail "namespace b lists a's socket"
# AF_IB sockets through sock_diag's AF_IB family: an unconnected SOCK_SEQPACKET one.
fifo=$(mktemp -u) && mkfifo "$fifo"
ip netns exec a "$SOCKCTL" hold 27 5 0 "$fifo" &
[ "$(cat "$fifo")" = ready ] || fail "AF_IB socket for infinisock-ss --ib"
rm -f "$fifo"
ip netns exec a "$SS" --ib -a -e | grep -Eq "^ib_seqpacket +UNCONN +0 +0 +\*:\* +\*:\* +uid:0 " ||
	fail "infinisock-ss --ib -a: $(ip netns exec a "$SS" --ib -a -e)"
[ "$(count --ib)" = 0 ] || fail "infinisock-ss --ib lists an unconnected socket without -a"
pass "infinisock-ss lists SDP sockets over sock_diag: connection, listener, details, filters, JSON, other users, AF_IB"
# Both ends sleep long (the listings above take over a minute on a slow VM) and go now.
kill $client $server 2>/dev/null
rm -f "$out" "$bout"
